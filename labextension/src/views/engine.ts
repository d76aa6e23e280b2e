/**
 * The head of the sidebar: which engine it shows, whether updates are live, and the tools
 * (pull, build, prune) that are also in the command palette.
 */
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { CommandIDs } from '../commands';
import { DockerModel } from '../model';
import { button } from './section';

export class EngineView extends Widget {
  constructor(
    private readonly _model: DockerModel,
    commands: CommandRegistry
  ) {
    super();
    this.id = 'dockernb-engine';
    this.addClass('dockernb-engine');
    const title = document.createElement('h2');
    title.textContent = 'Docker';
    this._engine = document.createElement('div');
    this._engine.className = 'dockernb-engine-version';
    this._live = document.createElement('div');
    this._live.className = 'dockernb-live';
    const tools = document.createElement('div');
    tools.className = 'dockernb-tools';
    const run = (id: string) => () => void commands.execute(id);
    tools.append(
      button('Pull…', 'Pull an image', run(CommandIDs.pull)),
      button('Build', 'Build the Dockerfile open in the editor', run(CommandIDs.build)),
      button('Prune', 'Remove stopped containers and dangling images', run(CommandIDs.prune)),
      button('Refresh', 'Read containers and images again', run(CommandIDs.refresh))
    );
    this.node.append(title, this._engine, this._live, tools);
    _model.changed.connect(() => this.update(), this);
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.update();
  }

  protected override onUpdateRequest(msg: Message): void {
    super.onUpdateRequest(msg);
    const { version, engineError, live } = this._model;
    this._engine.textContent = engineError
      ? engineError
      : version
        ? `dockernb ${String(version.version)} · API ${String(version.api_version)}`
        : 'reading the engine…';
    this._engine.classList.toggle('dockernb-unavailable', !!engineError);
    const state = !live.connected ? 'disconnected' : live.live ? 'live' : 'manual';
    this._live.dataset.state = state;
    this._live.textContent =
      state === 'live' ? '● live updates from the engine' : `○ ${live.message || 'not connected to the server'}`;
  }

  private _engine: HTMLDivElement;
  private _live: HTMLDivElement;
}

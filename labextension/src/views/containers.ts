/**
 * The containers section: name, image, state and published ports of every container, with
 * start/stop/restart/remove and "open a shell", "attach", "logs" (terminals running the CLI).
 */
import { showErrorMessage } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';

import { ContainerAction, DockerModel, IContainerRecord, IPortRecord, ISection, statusNow } from '../model';
import { CommandIDs } from '../commands';
import { button, SectionView } from './section';

/** A published port as a link: through jupyter-server-proxy when the server has it, else direct. */
export type PortLink = (port: IPortRecord) => string | null;

export class ContainersView extends SectionView<IContainerRecord> {
  constructor(
    model: DockerModel,
    private readonly _commands: CommandRegistry,
    private readonly _portLink: PortLink
  ) {
    super(model, 'Containers', 'No containers. Start one with %docker run -d … in a notebook.');
    this.id = 'dockernb-containers';
  }

  /** "Up 3 minutes" ages between events: redraw the rows now and then while they are shown. */
  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._clock = window.setInterval(() => this.update(), 30_000);
  }

  protected override onBeforeDetach(msg: Message): void {
    window.clearInterval(this._clock);
    super.onBeforeDetach(msg);
  }

  private _clock = 0;

  protected section(): ISection<IContainerRecord> {
    return this.model.containers;
  }

  protected refresh(): Promise<void> {
    return this.model.refreshContainers();
  }

  protected row(c: IContainerRecord): HTMLLIElement {
    const li = document.createElement('li');
    li.className = 'dockernb-row dockernb-container';
    li.dataset.name = c.name;
    li.dataset.state = c.state;
    const title = document.createElement('div');
    title.className = 'dockernb-row-title';
    const name = document.createElement('span');
    name.className = 'dockernb-name';
    name.textContent = c.name;
    const state = document.createElement('span');
    state.className = `dockernb-state dockernb-state-${c.state}`;
    state.textContent = statusNow(c);
    title.append(name, state);
    const detail = document.createElement('div');
    detail.className = 'dockernb-row-detail';
    detail.textContent = c.image;
    for (const port of c.ports ?? []) {
      const href = port.host_port ? this._portLink(port) : null;
      const label = port.host_port
        ? `${port.host_port}→${port.container_port}/${port.protocol ?? 'tcp'}`
        : `${port.container_port}/${port.protocol ?? 'tcp'}`;
      const el = document.createElement(href ? 'a' : 'span');
      el.className = 'dockernb-port';
      el.textContent = label;
      if (href && el instanceof HTMLAnchorElement) {
        el.href = href;
        el.target = '_blank';
        el.rel = 'noopener';
      }
      detail.append(' ', el);
    }
    const actions = document.createElement('div');
    actions.className = 'dockernb-row-actions';
    const running = c.state === 'running' || c.state === 'restarting' || c.state === 'paused';
    const act = (action: ContainerAction) => () => void this._act(c.name, action);
    const open = (command: string) => () => void this._commands.execute(command, { name: c.name });
    if (running) {
      actions.append(
        button('stop', `Stop ${c.name}`, act('stop')),
        button('restart', `Restart ${c.name}`, act('restart')),
        button('shell', `Open a shell in ${c.name}`, open(CommandIDs.openShell)),
        button('attach', `Attach to ${c.name}`, open(CommandIDs.attach))
      );
    } else {
      actions.append(button('start', `Start ${c.name}`, act('start')));
    }
    actions.append(
      button('logs', `Follow the logs of ${c.name}`, open(CommandIDs.logs)),
      button('remove', `Remove ${c.name}`, act('remove'))
    );
    li.append(title, detail, actions);
    return li;
  }

  private async _act(name: string, action: ContainerAction): Promise<void> {
    try {
      await this.model.containerAction(name, action);
    } catch (error) {
      await showErrorMessage(`docker ${action} ${name}`, error as Error);
    }
  }
}

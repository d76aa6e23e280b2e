/**
 * The activity section: pulls, builds and prunes started from the sidebar or the palette, with
 * the lines they printed as they happen, and how they ended.
 */
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { DockerModel, IActivity } from '../model';

export class ActivityView extends Widget {
  constructor(private readonly _model: DockerModel) {
    super();
    this.id = 'dockernb-activity';
    this.addClass('dockernb-section');
    this.addClass('dockernb-activity');
    const head = document.createElement('h3');
    head.className = 'dockernb-section-title';
    head.textContent = 'Activity';
    this._list = document.createElement('div');
    this.node.append(head, this._list);
    _model.changed.connect(() => this.update(), this);
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.update();
  }

  protected override onUpdateRequest(msg: Message): void {
    super.onUpdateRequest(msg);
    this.setHidden(this._model.activities.length === 0);
    this._list.replaceChildren(...this._model.activities.map(a => this._item(a)));
  }

  private _item(activity: IActivity): HTMLElement {
    const details = document.createElement('details');
    details.className = `dockernb-op dockernb-op-${activity.state}`;
    details.dataset.state = activity.state;
    details.open = activity.state !== 'done' || this._open.has(activity.id);
    details.ontoggle = () => (details.open ? this._open.add(activity.id) : this._open.delete(activity.id));
    const summary = document.createElement('summary');
    const mark = { running: '…', done: '✓', failed: '✗' }[activity.state];
    summary.textContent = `${mark} ${activity.title}`;
    const out = document.createElement('pre');
    out.className = 'dockernb-op-output';
    out.textContent = activity.lines.join('\n');
    out.hidden = activity.lines.length === 0;
    details.append(summary, out);
    if (activity.message) {
      const error = document.createElement('div');
      error.className = 'dockernb-op-error';
      error.textContent = activity.message;
      details.append(error);
    }
    return details;
  }

  private _list: HTMLDivElement;
  private _open = new Set<number>();
}

/**
 * What every list section of the sidebar shares: a heading with a count and a refresh button,
 * the rows, and an honest empty state (the server's own sentence when the list cannot be read).
 */
import { refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { DockerModel, ISection } from '../model';

/** A small button with a text label (row actions) or an icon (section tools). */
export function button(label: string, title: string, onClick: () => void, className = ''): HTMLButtonElement {
  const b = document.createElement('button');
  b.className = `jp-Button jp-mod-minimal dockernb-button ${className}`.trim();
  b.textContent = label;
  b.title = title;
  b.dataset.action = label;
  b.onclick = event => {
    event.stopPropagation();
    onClick();
  };
  return b;
}

export abstract class SectionView<T> extends Widget {
  constructor(
    protected readonly model: DockerModel,
    private readonly _title: string,
    private readonly _empty: string
  ) {
    super();
    this.addClass('dockernb-section');
    const head = document.createElement('div');
    head.className = 'dockernb-section-head';
    this._heading = document.createElement('h3');
    this._heading.className = 'dockernb-section-title';
    const refresh = button('', `Refresh ${_title.toLowerCase()}`, () => void this.refresh(), 'dockernb-refresh');
    refreshIcon.element({ container: refresh, height: '16px', width: '16px' });
    head.append(this._heading, refresh);
    this._body = document.createElement('ul');
    this._body.className = 'dockernb-rows';
    this.node.append(head, this._body);
    model.changed.connect(() => this.update(), this);
  }

  protected abstract section(): ISection<T>;
  protected abstract refresh(): Promise<void>;
  protected abstract row(item: T): HTMLLIElement;

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.update();
  }

  protected override onUpdateRequest(msg: Message): void {
    super.onUpdateRequest(msg);
    const section = this.section();
    this._heading.textContent = section.loaded && !section.error ? `${this._title} (${section.items.length})` : this._title;
    const rows: HTMLElement[] = section.items.map(item => this.row(item));
    if (!rows.length) {
      const empty = document.createElement('li');
      empty.className = 'dockernb-empty';
      empty.textContent = !section.loaded ? 'loading…' : (section.error ?? this._empty);
      if (section.error) {
        empty.classList.add('dockernb-unavailable');
      }
      rows.push(empty);
    }
    this._body.replaceChildren(...rows);
  }

  private _heading: HTMLHeadingElement;
  private _body: HTMLUListElement;
}

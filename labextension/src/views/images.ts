/**
 * The images section: every image's names, short id and size, with run (a terminal running
 * `dockernb run -it --rm`), inspect (in a terminal) and remove.
 */
import { showErrorMessage } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';

import { CommandIDs } from '../commands';
import { DockerModel, IImageRecord, ISection } from '../model';
import { humanSize } from '../units';
import { button, SectionView } from './section';

export class ImagesView extends SectionView<IImageRecord> {
  constructor(
    model: DockerModel,
    private readonly _commands: CommandRegistry
  ) {
    super(model, 'Images', 'No images. Pull one with the "Docker: Pull an Image" command.');
    this.id = 'dockernb-images';
  }

  protected section(): ISection<IImageRecord> {
    return this.model.images;
  }

  protected refresh(): Promise<void> {
    return this.model.refreshImages();
  }

  protected row(image: IImageRecord): HTMLLIElement {
    const li = document.createElement('li');
    li.className = 'dockernb-row dockernb-image';
    const shortId = image.id.replace(/^sha256:/, '').slice(0, 12);
    const ref = image.tags?.[0] ?? shortId;
    li.dataset.ref = ref;
    const title = document.createElement('div');
    title.className = 'dockernb-row-title';
    const name = document.createElement('span');
    name.className = 'dockernb-name';
    name.textContent = image.tags?.length ? image.tags.join(', ') : '<none>';
    title.append(name);
    const detail = document.createElement('div');
    detail.className = 'dockernb-row-detail';
    detail.textContent = [shortId, image.size !== undefined ? humanSize(image.size) : ''].filter(Boolean).join(' · ');
    const actions = document.createElement('div');
    actions.className = 'dockernb-row-actions';
    actions.append(
      button('run', `Run ${ref} in a terminal`, () => void this._commands.execute(CommandIDs.runImage, { ref })),
      button('inspect', `Inspect ${ref}`, () => void this._commands.execute(CommandIDs.inspectImage, { ref })),
      button('remove', `Remove ${ref}`, () => void this._remove(ref))
    );
    li.append(title, detail, actions);
    return li;
  }

  private async _remove(ref: string): Promise<void> {
    try {
      await this.model.removeImage(ref);
    } catch (error) {
      await showErrorMessage(`docker rmi ${ref}`, error as Error);
    }
  }
}

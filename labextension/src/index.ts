/**
 * dockernb's JupyterLab extension: wiring only. The sidebar plugin adds the "Docker" panel and
 * the commands; the Dockerfile plugin adds the highlighting (it works without the sidebar).
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker } from '@jupyterlab/notebook';

import { registerCommands } from './commands';
import { DOCKERFILE_NAME, FILE_MIME, registerLanguages, watchNotebooks } from './highlight';
import { dockerIcon } from './icons';
import { DockerModel } from './model';
import { DockerSidebar } from './sidebar';

const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'dockernb-labext:sidebar',
  description: 'The Docker sidebar and commands, served by the dockernb engine.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null, restorer: ILayoutRestorer | null) => {
    const model = new DockerModel();
    const sidebar = new DockerSidebar(model, app.commands);
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, sidebar.id);
    registerCommands(app, model, () => app.shell.activateById(sidebar.id), palette);
    model.start();
  }
};

const dockerfilePlugin: JupyterFrontEndPlugin<void> = {
  id: 'dockernb-labext:dockerfile',
  description: 'Dockerfile highlighting for Dockerfiles and %%dockerfile notebook cells.',
  autoStart: true,
  requires: [IEditorLanguageRegistry],
  optional: [INotebookTracker],
  activate: (app: JupyterFrontEnd, languages: IEditorLanguageRegistry, notebooks: INotebookTracker | null) => {
    registerLanguages(languages);
    app.docRegistry.addFileType({
      name: 'dockerfile',
      displayName: 'Dockerfile',
      pattern: DOCKERFILE_NAME.source,
      mimeTypes: ['text/x-dockerfile', FILE_MIME],
      extensions: [],
      icon: dockerIcon
    });
    if (notebooks) {
      watchNotebooks(notebooks);
    }
  }
};

export default [sidebarPlugin, dockerfilePlugin];

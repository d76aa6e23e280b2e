/** The left-area panel "Docker": the engine head, containers, images and activity sections. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { CommandRegistry } from '@lumino/commands';
import { Panel } from '@lumino/widgets';

import { dockerIcon } from './icons';
import { DockerModel, IPortRecord } from './model';
import { ActivityView } from './views/activity';
import { ContainersView } from './views/containers';
import { EngineView } from './views/engine';
import { ImagesView } from './views/images';

export class DockerSidebar extends Panel {
  constructor(model: DockerModel, commands: CommandRegistry) {
    super();
    this.id = 'dockernb-sidebar';
    this.addClass('dockernb-sidebar');
    this.title.icon = dockerIcon;
    this.title.caption = 'Docker';
    const portLink = (port: IPortRecord): string | null => {
      if (!port.host_port) {
        return null;
      }
      if (model.client.proxy) {
        // jupyter-server-proxy: reachable wherever the lab is (JupyterHub included)
        return URLExt.join(ServerConnection.makeSettings().baseUrl, 'proxy', String(port.host_port)) + '/';
      }
      const host = port.host_ip && port.host_ip !== '0.0.0.0' && port.host_ip !== '::' ? port.host_ip : location.hostname;
      return `${location.protocol}//${host}:${port.host_port}/`;
    };
    this.addWidget(new EngineView(model, commands));
    this.addWidget(new ContainersView(model, commands, portLink));
    this.addWidget(new ImagesView(model, commands));
    this.addWidget(new ActivityView(model));
  }
}

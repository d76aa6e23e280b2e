/**
 * The Docker commands (palette, sidebar buttons): pull, build the open Dockerfile, prune,
 * refresh, and the terminals (shell, attach, logs, run, inspect) that type a CLI command.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, ICommandPalette, InputDialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { DocumentWidget } from '@jupyterlab/docregistry';
import { Widget } from '@lumino/widgets';

import { DOCKERFILE_NAME } from './highlight';
import { DockerModel } from './model';
import { openTerminal, shellQuote } from './terminal';

export namespace CommandIDs {
  export const refresh = 'dockernb:refresh';
  export const pull = 'dockernb:pull';
  export const build = 'dockernb:build';
  export const prune = 'dockernb:prune';
  export const openShell = 'dockernb:open-shell';
  export const attach = 'dockernb:attach';
  export const logs = 'dockernb:logs';
  export const runImage = 'dockernb:run-image';
  export const inspectImage = 'dockernb:inspect-image';
  export const openTerminal = 'dockernb:open-terminal';
}

const CATEGORY = 'Docker';

/** A string argument of a command, or `fallback`. */
function arg(args: Record<string, unknown>, key: string, fallback = ''): string {
  const value = args[key];
  return typeof value === 'string' ? value : fallback;
}

/** The Dockerfile open in the current tab, if any. */
function currentDockerfile(app: JupyterFrontEnd): DocumentWidget | null {
  const widget: Widget | null = app.shell.currentWidget;
  if (widget instanceof DocumentWidget && DOCKERFILE_NAME.test(PathExt.basename(widget.context.path))) {
    return widget;
  }
  return null;
}

export function registerCommands(
  app: JupyterFrontEnd,
  model: DockerModel,
  showSidebar: () => void,
  palette: ICommandPalette | null
): void {
  const { commands } = app;
  const cli = () => model.client.command;
  const terminal = (command: string, label: string) => openTerminal(app, command, label);
  const nameArg = (args: Record<string, unknown>) => {
    const name = arg(args, 'name');
    if (!name) {
      throw new Error('this command needs a container name');
    }
    return name;
  };

  commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh Containers and Images',
    caption: 'Read the engine’s containers and images again',
    execute: async () => {
      showSidebar();
      await model.refresh();
    }
  });

  commands.addCommand(CommandIDs.pull, {
    label: args => (arg(args, 'ref') ? `Pull ${arg(args, 'ref')}` : 'Pull an Image…'),
    caption: 'docker pull, with progress in the Docker sidebar',
    execute: async args => {
      let ref = arg(args, 'ref');
      if (!ref) {
        const answer = await InputDialog.getText({ title: 'Pull an image', placeholder: 'busybox:latest' });
        ref = (answer.button.accept && answer.value?.trim()) || '';
      }
      if (!ref) {
        return;
      }
      showSidebar();
      return model.pull(ref);
    }
  });

  commands.addCommand(CommandIDs.build, {
    label: 'Build the Current Dockerfile…',
    caption: 'docker build, with the Dockerfile’s directory as the context',
    execute: async args => {
      let path = arg(args, 'path');
      if (!path) {
        const doc = currentDockerfile(app);
        if (!doc) {
          await showErrorMessage('Build', 'Open a Dockerfile (Dockerfile, Dockerfile.*, *.Dockerfile) first.');
          return;
        }
        if (doc.context.model.dirty) {
          await doc.context.save();
        }
        path = doc.context.path;
      }
      let tags: string[] = Array.isArray(args['tags']) ? (args['tags'] as string[]) : [];
      if (args['tags'] === undefined) {
        const answer = await InputDialog.getText({
          title: `Build ${path}`,
          label: 'Tag (optional)',
          placeholder: 'name:tag'
        });
        if (!answer.button.accept) {
          return;
        }
        tags = answer.value?.trim() ? [answer.value.trim()] : [];
      }
      showSidebar();
      return model.build(path, tags);
    }
  });

  commands.addCommand(CommandIDs.prune, {
    label: 'Prune Stopped Containers and Dangling Images…',
    execute: async args => {
      if (!args['confirmed']) {
        const answer = await showDialog({
          title: 'Prune',
          body: 'Remove all stopped containers and dangling images?',
          buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Prune' })]
        });
        if (!answer.button.accept) {
          return;
        }
      }
      showSidebar();
      return model.prune();
    }
  });

  commands.addCommand(CommandIDs.openTerminal, {
    label: 'Open a Terminal Running a Command',
    execute: args => terminal(arg(args, 'command', cli()), arg(args, 'label', 'term'))
  });
  commands.addCommand(CommandIDs.openShell, {
    label: args => `Open a Shell in ${arg(args, 'name', 'a Container')}`,
    execute: args => {
      const name = nameArg(args);
      return terminal(`${cli()} exec -it ${shellQuote(name)} sh`, `shell_${name}`);
    }
  });
  commands.addCommand(CommandIDs.attach, {
    label: args => `Attach to ${arg(args, 'name', 'a Container')}`,
    execute: args => {
      const name = nameArg(args);
      return terminal(`${cli()} attach ${shellQuote(name)}`, `attach_${name}`);
    }
  });
  commands.addCommand(CommandIDs.logs, {
    label: args => `Follow the Logs of ${arg(args, 'name', 'a Container')}`,
    execute: args => {
      const name = nameArg(args);
      return terminal(`${cli()} logs -f ${shellQuote(name)}`, `logs_${name}`);
    }
  });
  commands.addCommand(CommandIDs.runImage, {
    label: args => `Run ${arg(args, 'ref', 'an Image')} in a Terminal`,
    execute: args => {
      const ref = arg(args, 'ref', '');
      return terminal(`${cli()} run -it --rm ${shellQuote(ref)}`, `run_${ref}`);
    }
  });
  commands.addCommand(CommandIDs.inspectImage, {
    label: args => `Inspect ${arg(args, 'ref', 'an Image')}`,
    execute: args => {
      const ref = arg(args, 'ref', '');
      return terminal(`${cli()} image inspect ${shellQuote(ref)}`, `inspect_${ref}`);
    }
  });

  for (const command of [CommandIDs.pull, CommandIDs.build, CommandIDs.prune, CommandIDs.refresh]) {
    palette?.addItem({ command, category: CATEGORY });
  }
}

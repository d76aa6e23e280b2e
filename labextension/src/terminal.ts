/**
 * Terminals that run a dockernb command: JupyterLab's terminals always start the server's
 * shell, so open one and type the command into it (`dockernb exec -it NAME sh`, `attach`,
 * `logs -f`). The terminal is a real pty, so full-screen programs work.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Terminal } from '@jupyterlab/services';

/** Quote one word for a POSIX shell (container names and image references rarely need it). */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A terminal name for `label`: the server routes terminal websockets and deletes by `\w+` only,
 * so anything else in the name would leave the terminal unreachable.
 */
export function terminalName(label: string, taken: Set<string>): string {
  const base = `dockernb_${label.replace(/\W+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || 'term'}`;
  let name = base;
  for (let i = 2; taken.has(name); i++) {
    name = `${base}_${i}`;
  }
  return name;
}

function firstOutput(session: Terminal.ITerminalConnection, timeout: number): Promise<void> {
  return new Promise(resolve => {
    const done = () => {
      clearTimeout(timer);
      session.messageReceived.disconnect(onMessage);
      resolve();
    };
    const onMessage = (_: unknown, msg: Terminal.IMessage) => {
      if (msg.type === 'stdout') {
        done();
      }
    };
    const timer = setTimeout(done, timeout);
    session.messageReceived.connect(onMessage);
  });
}

/** Open a terminal tab named after `label` and run `command` in it; resolves to the terminal's name. */
export async function openTerminal(app: JupyterFrontEnd, command: string, label: string): Promise<string> {
  const manager = app.serviceManager.terminals;
  await manager.refreshRunning();
  const name = terminalName(label, new Set(Array.from(manager.running(), model => model.name)));
  const session = await manager.startNew({ name });
  await app.commands.execute('terminal:open', { name });
  // type once the shell has printed its prompt, so the command is echoed once
  await firstOutput(session, 3000);
  session.send({ type: 'stdin', content: [command + '\r'] });
  // the tab holds its own connection; ours only typed the command
  setTimeout(() => session.dispose(), 1000);
  return name;
}

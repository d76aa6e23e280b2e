/**
 * Dockerfile highlighting: files named `Dockerfile` (JupyterLab's own mode), `Dockerfile.*` and
 * `*.Dockerfile`, and notebook cells that start with `%%dockerfile`, whose first line is styled
 * as meta and the rest with CodeMirror's legacy Dockerfile mode.
 *
 * Notebooks choose one language for all their code cells (the kernel's), so cells are switched
 * one by one: a `%%dockerfile` cell gets this module's MIME type, and loses it when the magic
 * goes. Token spans also carry stable `tok-*` classes (keyword, comment, string, meta).
 */
import { LanguageSupport, StreamLanguage, StreamParser, StringStream, syntaxHighlighting } from '@codemirror/language';
import { dockerFile } from '@codemirror/legacy-modes/mode/dockerfile';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { classHighlighter } from '@lezer/highlight';

/** MIME type of a `%%dockerfile` notebook cell. */
export const CELL_MIME = 'text/x-ipython-dockerfile';
/** MIME type of Dockerfiles named `Dockerfile.*` / `*.Dockerfile` (plain `Dockerfile` is JupyterLab's `text/x-dockerfile`). */
export const FILE_MIME = 'text/x-dockernb-dockerfile';
/** File names the Dockerfile modes claim. */
export const DOCKERFILE_NAME = /^(Dockerfile(\..+)?|.+\.[Dd]ockerfile)$/;
const VARIANT_NAME = /^(Dockerfile\..+|.+\.[Dd]ockerfile)$/;
const MAGIC = /^%%dockerfile(\s|$)/;

interface IMagicState {
  first: boolean;
  inner: unknown;
}

const inner = dockerFile as StreamParser<unknown>;

/** The cell mode: a leading `%%magic ...` line is meta, the rest is the Dockerfile mode. */
export const cellMagicMode: StreamParser<IMagicState> = {
  name: 'ipython-dockerfile',
  startState: (indentUnit: number) => ({
    first: true,
    inner: inner.startState ? inner.startState(indentUnit) : {}
  }),
  copyState: (state: IMagicState) => ({
    first: state.first,
    inner: inner.copyState ? inner.copyState(state.inner) : state.inner
  }),
  token: (stream: StringStream, state: IMagicState) => {
    if (state.first) {
      state.first = false;
      if (stream.sol() && stream.match(/^%%\S+/)) {
        stream.skipToEnd();
        return 'meta';
      }
    }
    return inner.token(stream, state.inner);
  },
  blankLine: (state: IMagicState, indentUnit: number) => {
    state.first = false;
    inner.blankLine?.(state.inner, indentUnit);
  },
  languageData: inner.languageData
};

function support(parser: StreamParser<unknown>): LanguageSupport {
  return new LanguageSupport(StreamLanguage.define(parser), [syntaxHighlighting(classHighlighter)]);
}

export function registerLanguages(languages: IEditorLanguageRegistry): void {
  languages.addLanguage({
    name: 'ipython-dockerfile',
    displayName: 'Dockerfile (%%dockerfile cell)',
    mime: CELL_MIME,
    load: () => Promise.resolve(support(cellMagicMode as StreamParser<unknown>))
  });
  languages.addLanguage({
    name: 'dockernb-dockerfile',
    displayName: 'Dockerfile',
    mime: FILE_MIME,
    filename: VARIANT_NAME,
    load: () => Promise.resolve(support(inner))
  });
}

/** Whether a code cell's source makes it a Dockerfile cell. */
export function isDockerfileCell(source: string): boolean {
  return MAGIC.test(source);
}

/**
 * Keep each code cell's MIME type in step with its first line. The notebook resets every code
 * cell's MIME type on insert and on a kernel change, so this re-applies on content changes and
 * whenever a cell's MIME type changes.
 */
export function watchNotebook(panel: NotebookPanel): void {
  const seen = new WeakSet<object>();
  const sync = () => {
    const notebook = panel.content;
    for (const cell of notebook.widgets) {
      if (cell.model.type !== 'code') {
        continue;
      }
      if (!seen.has(cell.model)) {
        seen.add(cell.model);
        cell.model.mimeTypeChanged.connect(sync);
      }
      const want = isDockerfileCell(cell.model.sharedModel.getSource()) ? CELL_MIME : notebook.codeMimetype;
      if (cell.model.mimeType !== want) {
        cell.model.mimeType = want;
      }
    }
  };
  panel.content.modelContentChanged.connect(sync);
  void panel.context.ready.then(sync);
}

export function watchNotebooks(tracker: INotebookTracker): void {
  tracker.forEach(panel => watchNotebook(panel));
  tracker.widgetAdded.connect((_, panel) => watchNotebook(panel));
}

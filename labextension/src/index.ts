/**
 * jupyter-segments: `%%segment` cells that feel native in JupyterLab.
 *
 * - Highlighting: a cell whose first line is `%%segment` gets the `text/x-segment` mime type, whose
 *   language (language.ts) is registered with JupyterLab; `.segment` files use it too.
 * - Diagnostics and hover: every notebook code cell editor gets a CodeMirror linter and hover tooltip that
 *   ask the kernel (kernel.ts, jupyter_segments/editor.py) when the cell is a `%%segment` cell. Without a
 *   kernel, or before `%load_ext jupyter_segments` and `%segment connect`, they show nothing.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { CodeMirrorEditor, IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Extension } from '@codemirror/state';
import { EditorView, hoverTooltip } from '@codemirror/view';
import { forceLinting, linter } from '@codemirror/lint';

import { IHover, KernelLink } from './kernel';
import { isSegmentCell, SEGMENT_MIME, segmentSupport } from './language';

const LINT_DELAY_MS = 400;
const HOVER_DELAY_MS = 350;

function clamp(n: number, max: number): number {
  return Math.max(0, Math.min(n, max));
}

function renderHover(h: IHover): HTMLElement {
  const dom = document.createElement('div');
  dom.className = 'jseg-hover';
  dom.dataset.kind = h.kind;
  const title = dom.appendChild(document.createElement('div'));
  title.className = 'jseg-hover-title';
  const kind = title.appendChild(document.createElement('span'));
  kind.className = 'jseg-hover-kind';
  kind.textContent = h.kind;
  title.appendChild(document.createTextNode(' '));
  const name = title.appendChild(document.createElement('code'));
  name.textContent = h.title;
  for (const line of h.detail) {
    const div = dom.appendChild(document.createElement('div'));
    div.className = 'jseg-hover-line';
    div.textContent = line;
  }
  if (h.code) {
    const pre = dom.appendChild(document.createElement('pre'));
    pre.className = 'jseg-hover-code';
    pre.textContent = h.code;
  }
  return dom;
}

/** Linter and hover for one cell editor; both do nothing unless the cell is a `%%segment` cell. */
function cellExtensions(link: KernelLink, key: () => string): Extension {
  const lint = linter(
    async view => {
      const code = view.state.doc.toString();
      if (!isSegmentCell(code)) {
        return [];
      }
      const reply = await link.check(key(), code);
      if (!reply || !reply.connected) {
        return [];
      }
      const length = view.state.doc.length;
      return reply.diagnostics.map(d => ({
        from: clamp(d.from, length),
        to: clamp(Math.max(d.to, d.from), length),
        severity: d.severity,
        message: d.message,
        source: d.source ?? 'segment',
        markClass: 'jseg-diagnostic'
      }));
    },
    { delay: LINT_DELAY_MS }
  );
  const hover = hoverTooltip(
    async (view, pos) => {
      const code = view.state.doc.toString();
      if (!isSegmentCell(code)) {
        return null;
      }
      const reply = await link.hover(key(), code, pos);
      if (!reply || !reply.hover || view.state.doc.toString() !== code) {
        return null;
      }
      const h = reply.hover;
      const length = view.state.doc.length;
      return {
        pos: clamp(h.from, length),
        end: clamp(h.to, length),
        above: true,
        create: () => ({ dom: renderHover(h) })
      };
    },
    { hoverTime: HOVER_DELAY_MS }
  );
  return [lint, hover];
}

/** Watches one notebook's cells: mime type by first line, linter and hover in every code cell. */
class NotebookSegments {
  constructor(
    private panel: NotebookPanel,
    private languages: IEditorLanguageRegistry
  ) {
    this.link = new KernelLink(panel.sessionContext);
    panel.context.ready.then(() => {
      this.scan();
      panel.content.model?.cells.changed.connect(this.scan, this);
    });
    panel.content.modelChanged.connect(() => {
      panel.content.model?.cells.changed.connect(this.scan, this);
      this.scan();
    });
    panel.sessionContext.kernelChanged.connect(this.relint, this);
    NotebookActions.executed.connect(this.onExecuted, this);
    panel.disposed.connect(() => {
      NotebookActions.executed.disconnect(this.onExecuted, this);
      this.link.dispose();
    });
  }

  private onExecuted(_: unknown, args: { notebook: unknown }): void {
    if (args.notebook === this.panel.content) {
      this.relint(); // a connect, a model change or %load_ext may change every cell's diagnostics
    }
  }

  private relint(): void {
    this.link.retry();
    for (const cell of this.panel.content.widgets) {
      const view = this.views.get(cell);
      if (view && isSegmentCell(view.state.doc.toString())) {
        forceLinting(view);
      }
    }
  }

  private scan(): void {
    // Widgets appear a moment after the model's cells change.
    requestAnimationFrame(() => {
      for (const cell of this.panel.content.widgets) {
        if (cell.model.type === 'code' && !this.seen.has(cell)) {
          this.attach(cell);
        }
      }
    });
  }

  private attach(cell: Cell): void {
    this.seen.add(cell);
    const notebook = this.panel.content;
    let segment = false;
    const update = () => {
      if (cell.isDisposed) {
        return;
      }
      segment = isSegmentCell(cell.model.sharedModel.getSource());
      const wanted = segment ? SEGMENT_MIME : notebook.codeMimetype;
      if (cell.model.mimeType !== wanted) {
        cell.model.mimeType = wanted;
      }
    };
    cell.model.sharedModel.changed.connect((_, change) => {
      if (change.sourceChange) {
        update();
      }
    });
    // The notebook resets every code cell's mime type when the kernel's language is known. The editor
    // loads that language asynchronously and applies it when loaded: set ours back only after that.
    cell.model.mimeTypeChanged.connect(() => {
      const mime = cell.model.mimeType;
      if (segment && mime !== SEGMENT_MIME) {
        this.languages
          .getLanguage(mime)
          .catch(() => null)
          .then(() => requestAnimationFrame(update));
      }
    });
    update();
    cell.ready.then(() => {
      const editor = cell.editor as CodeMirrorEditor | null;
      if (!editor || cell.isDisposed) {
        return;
      }
      editor.injectExtension(cellExtensions(this.link, () => cell.model.id));
      this.views.set(cell, editor.editor);
    });
  }

  private link: KernelLink;
  private seen = new WeakSet<Cell>();
  private views = new WeakMap<Cell, EditorView>();
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-segments:plugin',
  description: 'Highlighting, live diagnostics and hover for %%segment cells and .segment files.',
  autoStart: true,
  requires: [INotebookTracker, IEditorLanguageRegistry],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, languages: IEditorLanguageRegistry) => {
    languages.addLanguage({
      name: 'segment',
      displayName: 'Segment',
      mime: SEGMENT_MIME,
      extensions: ['segment'],
      load: async () => segmentSupport()
    });
    app.docRegistry.addFileType({
      name: 'segment',
      displayName: 'Segment definition',
      extensions: ['.segment'],
      mimeTypes: [SEGMENT_MIME]
    });
    tracker.widgetAdded.connect((_, panel) => {
      new NotebookSegments(panel, languages);
    });
  }
};

export default plugin;

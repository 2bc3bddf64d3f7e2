/**
 * The notebook's line to the kernel side (jupyter_segments/editor.py): one comm per kernel, opened when
 * a `%%segment` cell first needs a check or a hover.
 *
 * Protocol (JSON over the comm `jupyter_segments.editor`):
 *   -> {id, type: "check", code}            <- {id, type: "check", connected, diagnostics: [...]}
 *   -> {id, type: "hover", code, offset}    <- {id, type: "hover", connected, hover: {...} | null}
 * Offsets are UTF-16 code units into `code` (the whole cell, magic line included), as CodeMirror counts.
 *
 * When the kernel has no such comm target (`%load_ext jupyter_segments` not run yet) it closes the comm
 * at once: we then stay quiet (highlighting only) until the next cell execution, which may load it.
 * At most one request per cell is in flight; a newer request for the same cell replaces a waiting one.
 */

import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';

export const COMM_TARGET = 'jupyter_segments.editor';
const REPLY_TIMEOUT_MS = 20000;

export type Severity = 'error' | 'warning' | 'info' | 'hint';

export interface IDiagnostic {
  from: number;
  to: number;
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  severity: Severity;
  message: string;
  source?: string;
}

export interface IHover {
  from: number;
  to: number;
  kind: string;
  title: string;
  detail: string[];
  code?: string | null;
}

interface IPending {
  resolve: (reply: any) => void;
  timer: number;
}

interface IQueued {
  payload: { [key: string]: unknown };
  resolve: (reply: any) => void;
}

export class KernelLink {
  constructor(private sessionContext: ISessionContext) {}

  /** Forget that the kernel lacked our comm target: a cell ran, `%load_ext` may have happened. */
  retry(): void {
    this._unavailableFor = null;
  }

  /** The kernel's diagnostics for a cell, or null (no kernel, not loaded, superseded, timed out). */
  check(key: string, code: string): Promise<{ connected: boolean; diagnostics: IDiagnostic[] } | null> {
    return this._request(key + ':check', { type: 'check', code });
  }

  hover(key: string, code: string, offset: number): Promise<{ connected: boolean; hover: IHover | null } | null> {
    return this._request(key + ':hover', { type: 'hover', code, offset });
  }

  dispose(): void {
    this._closeComm();
  }

  private _request(slot: string, payload: { [key: string]: unknown }): Promise<any> {
    return new Promise(resolve => {
      const waiting = this._queued.get(slot);
      if (waiting) {
        waiting.resolve(null); // superseded by newer text
      }
      this._queued.set(slot, { payload, resolve });
      this._pump(slot);
    });
  }

  private _pump(slot: string): void {
    if (this._inflight.has(slot)) {
      return;
    }
    const next = this._queued.get(slot);
    if (!next) {
      return;
    }
    this._queued.delete(slot);
    const comm = this._ensureComm();
    if (!comm) {
      next.resolve(null);
      return;
    }
    const id = ++this._seq;
    this._inflight.add(slot);
    const done = (reply: any) => {
      this._inflight.delete(slot);
      next.resolve(reply);
      this._pump(slot);
    };
    const timer = window.setTimeout(() => {
      this._pending.delete(id);
      done(null);
    }, REPLY_TIMEOUT_MS);
    this._pending.set(id, { resolve: done, timer });
    comm.send({ id, ...next.payload } as any);
  }

  private _ensureComm(): Kernel.IComm | null {
    const kernel = this.sessionContext.session?.kernel;
    if (!kernel || kernel.isDisposed || kernel.status === 'dead') {
      return null;
    }
    if (this._comm && this._commKernel === kernel && !this._comm.isDisposed) {
      return this._comm;
    }
    this._closeComm();
    if (this._unavailableFor === kernel.id) {
      return null;
    }
    if (!kernel.hasComm || !kernel.handleComms) {
      return null;
    }
    const comm = kernel.createComm(COMM_TARGET);
    let answered = false;
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
      answered = true;
      const data = msg.content.data as any;
      const pending = this._pending.get(data.id);
      if (pending) {
        this._pending.delete(data.id);
        window.clearTimeout(pending.timer);
        pending.resolve(data);
      }
    };
    comm.onClose = () => {
      if (this._comm !== comm) {
        return; // we closed it ourselves
      }
      if (!answered) {
        this._unavailableFor = kernel.id; // no comm target: the extension is not loaded in this kernel
      }
      this._comm = null;
      this._commKernel = null;
      this._failPending();
    };
    comm.open({});
    this._comm = comm;
    this._commKernel = kernel;
    return comm;
  }

  private _failPending(): void {
    for (const [id, pending] of this._pending) {
      window.clearTimeout(pending.timer);
      this._pending.delete(id);
      pending.resolve(null);
    }
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    this._commKernel = null;
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // the kernel is gone: nothing to close
      }
    }
    this._failPending();
  }

  private _comm: Kernel.IComm | null = null;
  private _commKernel: Kernel.IKernelConnection | null = null;
  private _unavailableFor: string | null = null;
  private _seq = 0;
  private _pending = new Map<number, IPending>();
  private _queued = new Map<string, IQueued>();
  private _inflight = new Set<string>();
}

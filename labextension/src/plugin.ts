/**
 * The notebook side of the MCP Apps host: how an app's `tools/call` reaches the kernel.
 *
 * A MIME renderer has no kernel; this plugin finds the notebook a report is drawn in (the
 * main-area widget whose node holds it) and opens one comm (`codemode.apps`) per kernel, to
 * the kernel's `codemode.notebook._appcomm`. A call's approval question comes back on the
 * comm and is asked under the app; the person's click answers it. Typed structurally, so the
 * extension needs no JupyterLab package beyond the renderer's.
 */
import { AppRelay, ApprovalQuestion, setRelayFinder } from './apps';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface IComm {
  open(data: JsonObject): unknown;
  send(data: JsonObject): unknown;
  onMsg: (message: { content: { data: JsonObject } }) => void;
  onClose: (message: unknown) => void;
  isDisposed?: boolean;
}

interface IKernel {
  createComm(target: string): IComm;
  isDisposed?: boolean;
}

interface INotebookLike {
  node: HTMLElement;
  sessionContext?: { session?: { kernel?: IKernel | null } | null };
}

interface IApp {
  shell: { widgets(area: string): Iterable<INotebookLike> };
}

interface IPending {
  resolve(answer: { result: JsonObject; call: JsonObject | null }): void;
  reject(error: { code?: Json; message?: Json; call?: JsonObject | null }): void;
  ask(question: ApprovalQuestion): Promise<'once' | 'deny'>;
  call?: JsonObject;
}

/** One kernel's comm and the app calls in flight on it. */
class KernelRelay implements AppRelay {
  constructor(kernel: IKernel) {
    this._comm = kernel.createComm('codemode.apps');
    this._comm.onMsg = message => this._receive(message.content.data);
    this._comm.onClose = () => {
      this.closed = true;
      for (const pending of this._pending.values()) {
        pending.reject({ message: 'the kernel has no codemode session for apps (run %load_ext codemode)' });
      }
      this._pending.clear();
    };
    this._comm.open({});
  }

  closed = false;

  callTool(request: { server: string; html: string; callId: number; runId: string; name: string; arguments: JsonObject },
    ask: (question: ApprovalQuestion) => Promise<'once' | 'deny'>): Promise<{ result: JsonObject; call: JsonObject | null }> {
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject, ask });
      this._comm.send({ method: 'tools/call', id, server: request.server, html: request.html, name: request.name,
        arguments: request.arguments, via: request.callId, runId: request.runId });
    });
  }

  readResource(request: { server: string; html: string; callId: number; uri: string }): Promise<JsonObject> {
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve: answer => resolve(answer.result), reject, ask: () => Promise.resolve('deny') });
      this._comm.send({ method: 'resources/read', id, server: request.server, html: request.html, uri: request.uri,
        via: request.callId });
    });
  }

  private _receive(data: JsonObject): void {
    const pending = this._pending.get(Number(data.id));
    if (!pending) {
      return;
    }
    if (data.method === 'approval/ask') {
      void pending.ask({ text: String(data.text ?? '') }).then(answer =>
        this._comm.send({ method: 'approval/answer', ask: data.ask, answer }));
    } else if (data.call !== undefined) {
      pending.call = data.call as JsonObject; // the call's record, just before its answer
    } else if (data.result !== undefined) {
      this._pending.delete(Number(data.id));
      pending.resolve({ result: data.result as JsonObject, call: pending.call ?? null });
    } else if (data.error !== undefined) {
      this._pending.delete(Number(data.id));
      pending.reject({ ...(data.error as { code?: Json; message?: Json }), call: pending.call ?? null });
    }
  }

  private _comm: IComm;
  private _pending = new Map<number, IPending>();
  private _nextId = 1;
}

const relays = new WeakMap<IKernel, KernelRelay>();

function relayFor(app: IApp, node: HTMLElement): AppRelay | null {
  for (const widget of app.shell.widgets('main')) {
    if (!widget.node.contains(node)) {
      continue;
    }
    const kernel = widget.sessionContext?.session?.kernel;
    if (!kernel || kernel.isDisposed) {
      return null;
    }
    let relay = relays.get(kernel);
    if (!relay || relay.closed) {
      relay = new KernelRelay(kernel);
      relays.set(kernel, relay);
    }
    return relay;
  }
  return null;
}

/** The plugin JupyterLab loads (package.json `jupyterlab.extension`). */
const plugin = {
  id: 'jupyter-codemode:apps',
  description: "Relays MCP Apps' tool calls from codemode reports to the notebook's kernel.",
  autoStart: true,
  activate: (app: IApp): void => {
    setRelayFinder(node => relayFor(app, node));
  }
};

export default plugin;

/**
 * The renderer as an MCP Apps host (the `io.modelcontextprotocol/ui` extension, 2026-01-26).
 *
 * A call whose tool has an app carries, in the report's metadata, the app's page (once per
 * digest) and the call's full result. The page is drawn in an iframe with
 * `sandbox="allow-scripts"` and never `allow-same-origin`: its document has an opaque origin
 * and cannot read JupyterLab's. Its `srcdoc` starts with the Content-Security-Policy the spec
 * derives from the resource's `_meta.ui.csp` (nothing from the network by default), placed
 * first in its head so no script of the page runs before it.
 *
 * The host side of the protocol is a small JSON-RPC dispatcher over `postMessage`, answering
 * only messages from its own frame: `ui/initialize` (host info, capabilities, theme, size),
 * then, after `ui/notifications/initialized`, the tool's input and result; size changes;
 * `tools/call` relayed through the kernel to the cell's session (policy, approvals, audit);
 * open-link requests shown as a link the person may click; messages and logs shown under the
 * app. Nothing from the app enters JupyterLab's page as HTML.
 */
import { cspFor, hostStyles, srcdocFor } from './appsandbox';
import { el } from './dom';

/** The MCP Apps protocol version this host speaks. */
export const APPS_PROTOCOL = '2026-01-26';
/** The iframe's sandbox: scripts, and nothing else (no same origin, no forms, no popups). */
export const APP_SANDBOX = 'allow-scripts';
/** Tallest an app may grow, in pixels, before it scrolls inside its frame. */
const MAX_HEIGHT = 1200;
const FIRST_HEIGHT = 160;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** An app's page as the report's metadata keeps it (`AppPage.to_json()`). */
export interface AppPage {
  server: string;
  uri: string;
  html: string;
  ui?: { csp?: AppCsp; permissions?: JsonObject; prefersBorder?: boolean };
}

/** The resource's declared domains (`_meta.ui.csp`). */
export interface AppCsp {
  connectDomains?: string[];
  resourceDomains?: string[];
  frameDomains?: string[];
  baseUriDomains?: string[];
}

/** What a call keeps of its app (`ToolCall.app`). */
export interface CallApp {
  uri: string;
  digest: string;
  tool: JsonObject;
  result: JsonObject | null;
  problem?: string;
}

/** A question the session asks before an app's call goes out (a destructive tool). */
export interface ApprovalQuestion {
  text: string;
}

/** Carries an app's `tools/call` to the cell's session; answers with the wire result. */
export interface AppRelay {
  callTool(request: { server: string; html: string; callId: number; runId: string; name: string; arguments: JsonObject },
    ask: (question: ApprovalQuestion) => Promise<'once' | 'deny'>): Promise<{ result: JsonObject; call: JsonObject | null }>;
  readResource(request: { server: string; html: string; callId: number; uri: string }): Promise<JsonObject>;
}

/** An app's call as the report keeps it (output metadata `appCalls`): the call's record
 * (`ToolCall.payload()`) and `via`, the id of the call whose app made it. */
export type AppCallEntry = JsonObject & { via: number };

let relayFinder: ((node: HTMLElement) => AppRelay | null) | null = null;

/** Set by the notebook plugin: how a report's node finds its notebook's kernel. */
export function setRelayFinder(finder: (node: HTMLElement) => AppRelay | null): void {
  relayFinder = finder;
}

/** One app drawn for one call: its frame, and what it asked the host, under it. */
export class AppPanel {
  /** The panel's node: a header, the frame, the app's activity. */
  readonly node: HTMLElement;
  /** The sandboxed frame. */
  readonly frame: HTMLIFrameElement;

  constructor(page: AppPage, app: CallApp, call: { server: string; tool: string; arguments: JsonObject; id: number },
    runId: string, onCall?: (entry: AppCallEntry) => void) {
    this._onCall = onCall;
    this._page = page;
    this._app = app;
    this._call = call;
    this._runId = runId;
    this.node = el('div', 'jp-CodemodeRun-app');
    this.node.dataset.uri = page.uri;
    this.node.dataset.call = String(call.id);
    const head = el('div', 'jp-CodemodeRun-appHeader');
    head.append(el('span', 'jp-CodemodeRun-label', 'app'), el('code', '', `${call.server}.${call.tool}`),
      el('span', 'jp-CodemodeRun-appUri', page.uri));
    this.node.append(head);
    this.frame = document.createElement('iframe');
    this.frame.className = 'jp-CodemodeRun-appFrame';
    this.frame.setAttribute('sandbox', APP_SANDBOX);
    this.frame.setAttribute('referrerpolicy', 'no-referrer');
    this.frame.title = `app of ${call.server}.${call.tool}`;
    this.frame.style.height = `${FIRST_HEIGHT}px`;
    if (page.ui?.prefersBorder === false) {
      this.frame.classList.add('jp-mod-borderless');
    }
    this._policy = cspFor(page.ui?.csp);
    this.frame.dataset.csp = this._policy;
    this.frame.srcdoc = srcdocFor(page.html, this._policy);
    this._activity = el('ul', 'jp-CodemodeRun-appActivity');
    this.node.append(this.frame, this._activity);
    if (app.problem) {
      this._note('note', app.problem);
    }
    this._onMessage = (event: MessageEvent) => this._receive(event);
    window.addEventListener('message', this._onMessage);
    // JupyterLab's theme switch: the app hears the new theme and colours (host-context-changed).
    this._themeWatch = new MutationObserver(() => {
      if (this._initialized) {
        this._post({ jsonrpc: '2.0', method: 'ui/notifications/host-context-changed', params: {
          theme: document.body.dataset.jpThemeLight === 'false' ? 'dark' : 'light', styles: { variables: hostStyles() } } });
      }
    });
    this._themeWatch.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-light'] });
  }

  /** Stop listening and tell the app it goes (it is not waited for: the frame goes with it). */
  dispose(): void {
    window.removeEventListener('message', this._onMessage);
    this._themeWatch.disconnect();
    if (this._initialized) {
      this._post({ jsonrpc: '2.0', id: this._nextId++, method: 'ui/resource-teardown', params: { reason: 'closed' } });
    }
    this.node.remove();
  }

  private _receive(event: MessageEvent): void {
    if (event.source !== this.frame.contentWindow || event.source === null) {
      return; // only the app's own frame speaks to this panel
    }
    const message = event.data as { jsonrpc?: string; id?: number | string; method?: string; params?: JsonObject };
    if (!message || message.jsonrpc !== '2.0' || typeof message.method !== 'string') {
      return; // answers to our requests (teardown) and anything malformed
    }
    const params = (message.params && typeof message.params === 'object' ? message.params : {}) as JsonObject;
    if (message.id === undefined) {
      this._notification(message.method, params);
    } else {
      void this._request(message.id, message.method, params);
    }
  }

  private _notification(method: string, params: JsonObject): void {
    if (method === 'ui/notifications/initialized' && !this._initialized) {
      this._initialized = true;
      this._post({ jsonrpc: '2.0', method: 'ui/notifications/tool-input', params: { arguments: this._call.arguments } });
      if (this._app.result) {
        this._post({ jsonrpc: '2.0', method: 'ui/notifications/tool-result', params: this._app.result });
      } else {
        this._post({ jsonrpc: '2.0', method: 'ui/notifications/tool-cancelled',
          params: { reason: this._app.problem ?? 'no result' } });
      }
    } else if (method === 'ui/notifications/size-changed') {
      const height = Number(params.height);
      if (Number.isFinite(height) && height > 0) {
        this.frame.style.height = `${Math.min(MAX_HEIGHT, Math.ceil(height))}px`;
      }
    } else if (method === 'notifications/message') {
      const data = typeof params.data === 'string' ? params.data : JSON.stringify(params.data);
      this._note('log', `[${String(params.level ?? 'info')}] ${data}`);
    }
  }

  private async _request(id: number | string, method: string, params: JsonObject): Promise<void> {
    try {
      const result = await this._answer(method, params);
      this._post({ jsonrpc: '2.0', id, result });
    } catch (error) {
      const failure = error as { code?: number; message?: string };
      this._post({ jsonrpc: '2.0', id, error: { code: failure.code ?? -32000, message: String(failure.message ?? error) } });
    }
  }

  private async _answer(method: string, params: JsonObject): Promise<JsonObject> {
    switch (method) {
      case 'ui/initialize':
        return this._initializeResult();
      case 'ping':
        return {};
      case 'tools/call':
        return this._toolCall(params);
      case 'resources/read':
        return this._readResource(params);
      case 'ui/open-link':
        return this._openLink(params);
      case 'ui/message':
        this._note('message', `message from the app: ${contentText(params.content)}`);
        return {};
      case 'ui/update-model-context':
        this._note('context', `context from the app: ${contentText(params.content) || JSON.stringify(params.structuredContent ?? null)}`);
        return {};
      case 'ui/request-display-mode':
        return { mode: 'inline' };
      default:
        throw { code: -32601, message: `${method} is not offered by this host` };
    }
  }

  private _initializeResult(): JsonObject {
    const dark = document.body.dataset.jpThemeLight === 'false';
    return {
      protocolVersion: APPS_PROTOCOL,
      hostInfo: { name: 'jupyter-codemode', version: '0.1.0' },
      hostCapabilities: { openLinks: {}, serverTools: {}, serverResources: {}, logging: {}, sandbox: { permissions: {}, csp: {} } },
      hostContext: {
        toolInfo: { tool: this._app.tool },
        theme: dark ? 'dark' : 'light',
        styles: { variables: hostStyles() },
        displayMode: 'inline',
        availableDisplayModes: ['inline'],
        containerDimensions: { maxHeight: MAX_HEIGHT, width: Math.max(200, this.node.clientWidth || 600) },
        locale: navigator.language,
        timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        userAgent: 'jupyterlab',
        platform: 'web'
      }
    };
  }

  private async _toolCall(params: JsonObject): Promise<JsonObject> {
    const name = String(params.name ?? '');
    const args = (params.arguments && typeof params.arguments === 'object' ? params.arguments : {}) as JsonObject;
    const line = this._note('call', `${this._page.server}.${name}(${JSON.stringify(args)}) asked by the app`);
    const relay = relayFinder ? relayFinder(this.node) : null;
    const record = (call: JsonObject | null | undefined, fallback: string, message?: string) =>
      this._onCall?.({ ...(call ?? { server: this._page.server, tool: name, arguments: args, status: 'error',
        error: { code: fallback } }), ...(message ? { message } : {}), via: this._call.id });
    if (!relay) {
      line.dataset.state = 'refused';
      line.append(el('span', 'jp-CodemodeRun-appOutcome', ': refused (no kernel to run it)'));
      record(null, 'NO_KERNEL', 'no kernel to run it');
      throw { code: -32000, message: 'this notebook has no kernel to run the call' };
    }
    line.dataset.state = 'running';
    try {
      const { result, call } = await relay.callTool({ server: this._page.server, html: this._page.html, callId: this._call.id,
        runId: this._runId, name, arguments: args }, question => this._askApproval(line, question));
      line.dataset.state = result.isError ? 'error' : 'ok';
      line.append(el('span', 'jp-CodemodeRun-appOutcome', result.isError ? `: error ${contentText(result.content)}` : ': ok'));
      record(call, 'UPSTREAM_ERROR');
      return result;
    } catch (error) {
      const failure = error as { message?: string; call?: JsonObject | null };
      line.dataset.state = 'refused';
      line.append(el('span', 'jp-CodemodeRun-appOutcome', `: refused (${String(failure.message ?? error)})`));
      record(failure.call, 'REFUSED', String(failure.message ?? error));
      throw { code: -32000, message: String(failure.message ?? error) };
    }
  }

  private async _readResource(params: JsonObject): Promise<JsonObject> {
    const uri = String(params.uri ?? '');
    const line = this._note('read', `the app reads ${uri}`);
    const relay = relayFinder ? relayFinder(this.node) : null;
    if (!relay) {
      line.dataset.state = 'refused';
      throw { code: -32000, message: 'this notebook has no kernel to read it' };
    }
    try {
      const result = await relay.readResource({ server: this._page.server, html: this._page.html, callId: this._call.id, uri });
      line.dataset.state = 'ok';
      return result;
    } catch (error) {
      const failure = error as { message?: string };
      line.dataset.state = 'refused';
      line.append(el('span', 'jp-CodemodeRun-appOutcome', `: refused (${String(failure.message ?? error)})`));
      throw { code: -32000, message: String(failure.message ?? error) };
    }
  }

  /** Ask the person under the app's call, with two buttons; the click is the answer. */
  private _askApproval(line: HTMLElement, question: ApprovalQuestion): Promise<'once' | 'deny'> {
    line.dataset.state = 'waiting';
    const box = el('div', 'jp-CodemodeRun-appApproval');
    box.append(el('pre', 'jp-CodemodeRun-appQuestion', question.text));
    const allow = el('button', 'jp-mod-styled jp-mod-accept', 'Allow once') as HTMLButtonElement;
    const deny = el('button', 'jp-mod-styled jp-mod-reject', 'Deny') as HTMLButtonElement;
    allow.type = deny.type = 'button';
    box.append(allow, deny);
    line.append(box);
    return new Promise(resolve => {
      const answer = (verdict: 'once' | 'deny') => {
        box.remove();
        line.dataset.state = 'running';
        line.append(el('span', 'jp-CodemodeRun-appDecision', verdict === 'once' ? ' (allowed)' : ' (denied)'));
        resolve(verdict);
      };
      allow.addEventListener('click', () => answer('once'));
      deny.addEventListener('click', () => answer('deny'));
    });
  }

  private _openLink(params: JsonObject): JsonObject {
    const url = String(params.url ?? '');
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) {
      throw { code: -32000, message: 'Invalid URL: only http and https links are offered' };
    }
    const line = this._note('link', 'the app offers a link: ');
    const anchor = document.createElement('a');
    anchor.href = parsed.href;
    anchor.textContent = parsed.href;
    anchor.target = '_blank';
    anchor.rel = 'noopener noreferrer';
    line.append(anchor);
    return {};
  }

  private _note(kind: string, text: string): HTMLElement {
    const line = el('li', 'jp-CodemodeRun-appNote', text);
    line.dataset.kind = kind;
    this._activity.append(line);
    return line;
  }

  private _post(message: JsonObject): void {
    this.frame.contentWindow?.postMessage(message, '*'); // an opaque origin has no name to target
  }

  private _onCall: ((entry: AppCallEntry) => void) | undefined;
  private _page: AppPage;
  private _app: CallApp;
  private _call: { server: string; tool: string; arguments: JsonObject; id: number };
  private _runId: string;
  private _policy: string;
  private _activity: HTMLElement;
  private _initialized = false;
  private _nextId = 1;
  private _onMessage: (event: MessageEvent) => void;
  private _themeWatch: MutationObserver;
}

function contentText(content: Json | undefined): string {
  const blocks = Array.isArray(content) ? content : content ? [content] : [];
  return blocks
    .map(block => (block && typeof block === 'object' && !Array.isArray(block) && typeof block.text === 'string' ? block.text : ''))
    .filter(Boolean)
    .join(' ');
}

/**
 * A JupyterLab renderer for codemode run reports (`application/vnd.codemode.run+json`).
 *
 * The payload is the stable part of a report (calls, streams, result, error); timings,
 * token counts and isolation facts come from the output's metadata under the same MIME
 * type. The payload is untrusted (tool results, cell output): every node is built with
 * createElement and textContent, never from HTML, so the renderer is safe in untrusted
 * notebooks.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import type { AppCallEntry, AppPage, CallApp } from './apps';
import { AppShelf } from './appshelf';
import { el } from './dom';
import { aOrAn, formatCount, formatDuration, formatSize, tokenVerdict } from './format';

/** The MIME type of a run report's payload (and of its metadata entry). */
export const MIME_TYPE = 'application/vnd.codemode.run+json';

/** The class of the renderer's widget; every other class starts with it. */
export const CLASS_NAME = 'jp-CodemodeRun';

/** Lines of a result shown before it is folded behind "show all". */
const FOLD_LINES = 12;
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface ResultPayload {
  kind?: string;
  value?: Json;
  preview?: string;
  chars?: number;
  text?: string;
  type?: string;
  truncated?: boolean;
  mimeType?: string;
  /** base64 for kind image/audio; a sanitized MIME bundle for kind mime */
  data?: string | Bundle;
  metadata?: { [key: string]: Json };
  blocks?: { [key: string]: Json }[];
}

/** A MIME bundle the host sanitized (`codemode.outputs`): MIME type → representation. */
export type Bundle = { [mimeType: string]: Json };

/** Sanitizes HTML (JupyterLab's own sanitizer, from the renderer's options). */
export interface ISanitizer {
  sanitize(dirty: string): string;
}

interface CallPayload {
  server: string;
  tool: string;
  arguments: { [key: string]: Json };
  status: 'running' | 'waiting' | 'ok' | 'error';
  /** The decision on a call the approval policy held back. */
  approval?: { decision: 'approved' | 'denied' | 'refused' | 'preapproved'; by: string };
  resultBytes?: number;
  result?: ResultPayload;
  error?: { code?: string; message?: string };
  progress?: { progress: number; total?: number | null; message?: string | null }[];
  logs?: { level?: string; data?: Json; logger?: string | null }[];
}

interface ErrorPayload {
  type?: string;
  code?: string;
  message?: string;
  traceback?: string;
}

/** The stable part of a report: `RunReport.payload()`. */
export interface RunPayload {
  version?: number;
  ok: boolean;
  calls: CallPayload[];
  result?: ResultPayload;
  error?: ErrorPayload;
  stdout?: string;
  stderr?: string;
  outputTruncated?: { [stream: string]: number };
  /** display() outputs of the run, when they were not shown live. */
  displays?: { data: Bundle; metadata?: { [key: string]: Json } }[];
  /** MIME type → outputs refused (script, widgets, unknown types). */
  outputsRefused?: { [mimeType: string]: number };
  /** Rich outputs dropped for size. */
  displaysTruncated?: number;
  timedOut?: boolean;
  /** Stopped by an interrupt (the kernel's, Ctrl-C). */
  interrupted?: boolean;
  /** What the host did or saw about the cell (threads stopped, a server name a variable hides). */
  notices?: string[];
  stateLost?: boolean;
  workerRestarted?: boolean;
  restartReason?: string;
  running?: boolean;
  /** Every call the run made, when it made more than the report keeps whole. */
  callCount?: number;
  /** The calls past the first `fullCalls` (failures excepted), summed up per tool. */
  summary?: { fullCalls: number; tools: SummaryRow[] };
  /** Older or other producers may put the volatile facts in the payload itself. */
  duration?: number;
  tokens?: Tokens | null;
}

/** One tool's summarised calls: the stable counts in the payload, the rest in metadata. */
export interface SummaryRow {
  server: string;
  tool: string;
  count: number;
  errors: number;
  total?: number;
  p50?: number;
  p95?: number;
  bytes?: number;
}

/** A run's token account (`TokenAccount.to_json()`): classic tool calling against code mode. */
export interface Tokens {
  tokenizer: string;
  classic_total: number;
  code_mode_total: number;
  ratio: number;
}

/** What may differ on a re-run of a call (`ToolCall.facts()`): its result, timing, size,
 * progress and logs, in the output's metadata. */
export interface CallFacts {
  id?: number;
  started: number;
  duration: number | null;
  resultBytes?: number;
  result?: ResultPayload;
  error?: { code?: string; message?: string };
  progress?: CallPayload['progress'];
  logs?: CallPayload['logs'];
  /** Seconds the call waited for its approval decision. */
  approvalWait?: number;
  /** The tool's MCP App, when it has one: drawn by `apps.ts`. */
  app?: CallApp;
}

/** The volatile part of a report, in the output's metadata: `RunReport.volatile()`. */
export interface RunMetadata {
  duration?: number;
  tokens?: Tokens | null;
  calls?: CallFacts[];
  isolation?: { [layer: string]: boolean };
  /** Each summarised tool's total, p50 and p95 seconds and result bytes, in summary order. */
  summary?: SummaryRow[];
  /** The JSON Lines file every call was written to, when the run wrote one. */
  trace?: string;
  runId?: string;
  /** The pages of the calls' MCP Apps, by digest. */
  apps?: { [digest: string]: AppPage };
  /** The calls the apps made, kept by the renderer as they were answered (not compared by nbval). */
  appCalls?: AppCallEntry[];
  /** false (`codemode.showTokens: false`): the token bars start folded. */
  showTokens?: boolean;
}

/** A call's payload with its metadata facts filling in what the payload leaves out. */
function withFacts(call: CallPayload, facts: CallFacts | undefined): CallPayload {
  if (!facts) {
    return call;
  }
  const error = call.error || facts.error ? { ...facts.error, ...call.error } : undefined;
  return {
    ...call,
    resultBytes: call.resultBytes ?? facts.resultBytes,
    result: call.result ?? facts.result,
    progress: call.progress ?? facts.progress,
    logs: call.logs ?? facts.logs,
    error: error && { code: error.code, message: call.error?.message ?? facts.error?.message }
  };
}

/** Renders one run report. */
export class RenderedRunReport extends Widget implements IRenderMime.IRenderer {
  /** A widget for the renderer options' MIME type. */
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this._sanitizer = options.sanitizer;
    this.addClass(CLASS_NAME);
  }

  /** Draw the model's payload, with the volatile facts from its metadata. */
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._model = model;
    const payload = model.data[this._mimeType] as unknown as RunPayload;
    const metadata = (model.metadata[this._mimeType] ?? {}) as unknown as RunMetadata;
    const report = renderRun(payload, metadata, this._sanitizer);
    // The apps' frames stay in place across re-renders (a moved frame reloads): see apps.ts.
    this._apps.render(this.node, report, payload.calls, metadata.calls ?? [], metadata.apps ?? {}, metadata.runId ?? '',
      model.trusted);
    return Promise.resolve();
  }

  /** Close the apps with the widget. */
  dispose(): void {
    this._apps.dispose();
    super.dispose();
  }

  /** Keep an app's call in the output's metadata, so the saved notebook shows it under its app's call. */
  private _keepAppCall(entry: AppCallEntry): void {
    const model = this._model;
    if (!model) {
      return;
    }
    const mine = (model.metadata[this._mimeType] ?? {}) as unknown as RunMetadata;
    const metadata = { ...model.metadata, [this._mimeType]: { ...mine, appCalls: [...(mine.appCalls ?? []), entry] } };
    model.setData({ metadata: metadata as IRenderMime.IMimeModel['metadata'] });
  }

  private _model: IRenderMime.IMimeModel | null = null;
  private _apps = new AppShelf(entry => this._keepAppCall(entry));
  private _mimeType: string;
  private _sanitizer: ISanitizer | undefined;
}

/** The report as a DOM tree (exported for tests and other front ends). */
export function renderRun(payload: RunPayload, metadata: RunMetadata, sanitizer?: ISanitizer): HTMLElement {
  const root = el('div', 'jp-CodemodeRun-body');
  const state = payload.running
    ? 'running'
    : payload.ok
      ? 'ok'
      : payload.timedOut
        ? 'timed-out'
        : payload.interrupted
          ? 'interrupted'
          : 'error';
  root.dataset.state = state;
  root.append(header(payload, metadata, state));
  if (payload.workerRestarted) {
    const why = payload.restartReason ? ` (${payload.restartReason})` : '';
    root.append(el('div', 'jp-CodemodeRun-note', `This cell ran in a fresh worker${why}: earlier variables are gone.`));
  }
  if (payload.stateLost) {
    root.append(el('div', 'jp-CodemodeRun-note', 'The worker stopped during this run: its variables are gone.'));
  }
  if (payload.calls.length) {
    root.append(timeline(payload.calls, metadata));
  }
  if (payload.summary) {
    root.append(summaryTable(payload.summary, metadata));
  }
  for (const name of ['stdout', 'stderr'] as const) {
    const text = payload[name];
    if (text) {
      root.append(section(name, pre(text, `jp-CodemodeRun-${name}`)));
    }
  }
  for (const output of payload.displays ?? []) {
    root.append(section('display', bundle(output.data, sanitizer), 'jp-CodemodeRun-display'));
  }
  for (const [name, count] of Object.entries(payload.outputTruncated ?? {})) {
    root.append(el('div', 'jp-CodemodeRun-warning',
      `${formatCount(count)} characters of ${name} dropped [OUTPUT_TRUNCATED]`));
  }
  const refused = Object.entries(payload.outputsRefused ?? {});
  if (refused.length) {
    const kinds = refused.map(([mime, count]) => `${mime} ×${count}`).join(', ');
    root.append(el('div', 'jp-CodemodeRun-warning', `output refused (script, widget or unknown type): ${kinds}`));
  }
  if (payload.displaysTruncated) {
    root.append(el('div', 'jp-CodemodeRun-warning',
      `${payload.displaysTruncated} rich output(s) over the size cap dropped [OUTPUT_TRUNCATED]`));
  }
  for (const notice of payload.notices ?? []) {
    root.append(el('div', 'jp-CodemodeRun-note', `note: ${notice}`));
  }
  if (payload.result) {
    root.append(section(resultLabel(payload.result), value(payload.result, sanitizer), 'jp-CodemodeRun-result'));
  }
  if (payload.error) {
    root.append(errorBlock(payload.error));
  }
  const tokens = metadata.tokens ?? payload.tokens;
  if (tokens) {
    // The renderer's own toggle: a click on `tokens` folds or unfolds the bars; they start
    // folded when the config says so (`codemode.showTokens: false`).
    const fold = el('details', 'jp-CodemodeRun-tokensFold') as HTMLDetailsElement;
    fold.open = metadata.showTokens !== false;
    fold.append(el('summary', 'jp-CodemodeRun-tokensToggle', 'tokens'), tokenBar(tokens));
    root.append(fold);
  }
  return root;
}

function header(payload: RunPayload, metadata: RunMetadata, state: string): HTMLElement {
  const line = el('div', 'jp-CodemodeRun-header');
  line.append(badge(state === 'timed-out' ? 'timed out' : state, state));
  const count = payload.callCount ?? payload.calls.length;
  const failed = payload.calls.filter(call => call.status === 'error').length;
  let calls = `${formatCount(count)} tool call${count === 1 ? '' : 's'}`;
  if (failed) {
    calls += ` (${failed} failed)`;
  }
  line.append(el('span', 'jp-CodemodeRun-count', calls));
  const duration = metadata.duration ?? payload.duration;
  if (duration !== undefined && !payload.running) {
    line.append(el('span', 'jp-CodemodeRun-duration', formatDuration(duration)));
  }
  const tokens = metadata.tokens ?? payload.tokens;
  if (tokens) {
    const summary = `${formatCount(tokens.code_mode_total)} tokens vs ${formatCount(tokens.classic_total)} classic`;
    line.append(el('span', 'jp-CodemodeRun-tokenSummary', summary));
  }
  return line;
}

function timeline(calls: CallPayload[], metadata: RunMetadata): HTMLElement {
  const list = el('ol', 'jp-CodemodeRun-timeline');
  const timings = metadata.calls ?? [];
  const end = Math.max(
    metadata.duration ?? 0,
    ...timings.map(t => t.started + (t.duration ?? 0))
  );
  calls.forEach((stable, index) => {
    const timing = timings[index];
    const call = withFacts(stable, timing);
    const item = el('li', 'jp-CodemodeRun-call');
    item.dataset.status = call.status;
    const details = el('details');
    const summary = el('summary');
    summary.append(el('code', 'jp-CodemodeRun-name', `${call.server}.${call.tool}`));
    summary.append(badge(call.error?.code ? `error ${call.error.code}` : call.status, call.status));
    summary.append(el('span', 'jp-CodemodeRun-duration', timing?.duration != null ? formatDuration(timing.duration) : ''));
    summary.append(spanBar(timing, end));
    if (call.resultBytes) {
      summary.append(el('span', 'jp-CodemodeRun-size', formatSize(call.resultBytes)));
    }
    if (call.status === 'waiting') {
      summary.append(el('span', 'jp-CodemodeRun-approval', 'waiting for approval'));
    } else if (call.approval) {
      summary.append(approvalLine(call.approval, timing?.approvalWait));
    }
    details.append(summary);
    details.append(section('arguments', pre(JSON.stringify(call.arguments, null, 2), 'jp-CodemodeRun-arguments')));
    const last = call.progress?.[call.progress.length - 1];
    if (last) {
      details.append(progressLine(last));
      if (call.status === 'running') {
        summary.append(progressLine(last));
      }
    }
    if (call.logs?.length) {
      const logs = el('ul', 'jp-CodemodeRun-logs');
      for (const log of call.logs) {
        const entry = el('li', 'jp-CodemodeRun-log');
        entry.dataset.level = String(log.level ?? 'info');
        entry.textContent = `[${log.level ?? 'info'}] ${typeof log.data === 'string' ? log.data : JSON.stringify(log.data)}`;
        logs.append(entry);
      }
      details.append(section('logs', logs));
    }
    if (call.result) {
      details.append(section('result', value(call.result)));
    }
    if (call.error) {
      details.append(el('div', 'jp-CodemodeRun-callError', call.error.message ?? ''));
    }
    item.append(details);
    const viaApp = (metadata.appCalls ?? []).filter(entry => timing?.id !== undefined && entry.via === timing.id);
    if (viaApp.length) {
      item.append(appCalls(viaApp));
    }
    list.append(item);
  });
  return list;
}

/** The calls an app made, under the call that drew the app. */
function appCalls(entries: AppCallEntry[]): HTMLElement {
  const list = el('ul', 'jp-CodemodeRun-viaApp');
  for (const entry of entries) {
    const line = el('li', 'jp-CodemodeRun-viaAppCall');
    const status = String(entry.status ?? '');
    line.dataset.status = status;
    const error = entry.error && typeof entry.error === 'object' && !Array.isArray(entry.error) ? entry.error : null;
    const approval = entry.approval && typeof entry.approval === 'object' && !Array.isArray(entry.approval) ? entry.approval : null;
    line.append(el('span', 'jp-CodemodeRun-label', 'via app'),
      el('code', 'jp-CodemodeRun-name', `${String(entry.server)}.${String(entry.tool)}(${JSON.stringify(entry.arguments ?? {})})`),
      badge(error?.code ? `error ${String(error.code)}` : status, status));
    if (approval) {
      line.append(el('span', 'jp-CodemodeRun-approval', `${String(approval.decision)} by ${String(approval.by)}`));
    }
    list.append(line);
  }
  return list;
}

/** `approved by a person (kernel stdin) after 2.1 s`: who or what decided, and the wait
 * when someone was asked. */
function approvalLine(approval: NonNullable<CallPayload['approval']>, waited: number | undefined): HTMLElement {
  const line = el('span', 'jp-CodemodeRun-approval');
  line.dataset.decision = approval.decision;
  const asked = approval.decision !== 'preapproved' && !approval.by.startsWith('nobody');
  const after = asked && waited !== undefined ? ` after ${formatDuration(waited)}` : '';
  line.textContent =
    approval.decision === 'refused' ? `refused: ${approval.by}${after}` : `${approval.decision} by ${approval.by}${after}`;
  return line;
}

function spanBar(timing: { started: number; duration: number | null } | undefined, end: number): HTMLElement {
  const track = el('span', 'jp-CodemodeRun-track');
  if (timing && end > 0) {
    const bar = el('span', 'jp-CodemodeRun-span');
    bar.style.left = `${(100 * timing.started) / end}%`;
    bar.style.width = `${Math.max(1, (100 * (timing.duration ?? end - timing.started)) / end)}%`;
    track.append(bar);
  }
  return track;
}

function progressLine(entry: { progress: number; total?: number | null; message?: string | null }): HTMLElement {
  const line = el('span', 'jp-CodemodeRun-progress');
  const meter = document.createElement('progress');
  if (entry.total) {
    meter.max = entry.total;
    meter.value = entry.progress;
  }
  line.append(meter);
  const amount = entry.total ? `${entry.progress}/${entry.total}` : `${entry.progress}`;
  line.append(el('span', '', ` ${amount} ${entry.message ?? ''}`.trimEnd()));
  return line;
}

function value(result: ResultPayload, sanitizer?: ISanitizer): HTMLElement {
  const kind = result.kind;
  if (kind === 'mime' && result.data && typeof result.data === 'object') {
    return bundle(result.data, sanitizer);
  }
  if ((kind === 'image' || kind === 'audio') && typeof result.data === 'string' && result.data) {
    return media(result.mimeType ?? '', result.data);
  }
  if (kind === 'content') {
    const box = el('div', 'jp-CodemodeRun-blocks');
    for (const block of result.blocks ?? []) {
      if ((block.type === 'image' || block.type === 'audio') && typeof block.data === 'string' && block.data) {
        box.append(media(String(block.mimeType ?? ''), block.data));
      } else if (block.type === 'text' && typeof block.text === 'string') {
        box.append(folded(block.text));
      } else {
        box.append(folded(JSON.stringify(block, null, 2)));
      }
    }
    return box;
  }
  if (kind === 'repr') {
    return folded((result.text ?? '') + (result.truncated ? '…' : ''));
  }
  if (result.preview !== undefined) {
    return folded(`${result.preview}… (${result.chars ?? '?'} characters)`);
  }
  const data = result.value;
  return folded(typeof data === 'string' && data.includes('\n') ? data : JSON.stringify(data, null, 2));
}

/**
 * A sanitized bundle as IPython's front ends show it: an image, then HTML, then JSON, then
 * text. HTML was cleaned by the host (nh3) and is cleaned again here by JupyterLab's own
 * sanitizer before it enters the page; SVG goes into an <img>, where no script runs.
 */
function bundle(data: Bundle, sanitizer?: ISanitizer): HTMLElement {
  for (const mimeType of IMAGE_TYPES) {
    const image = data[mimeType];
    if (typeof image === 'string' && image) {
      return media(mimeType, image);
    }
  }
  const svg = data['image/svg+xml'];
  if (typeof svg === 'string' && svg) {
    const image = document.createElement('img');
    image.className = 'jp-CodemodeRun-image';
    image.alt = 'SVG output';
    image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    return image;
  }
  const html = data['text/html'];
  if (typeof html === 'string' && sanitizer) {
    const box = el('div', 'jp-CodemodeRun-html jp-RenderedHTMLCommon');
    box.innerHTML = sanitizer.sanitize(html);
    return box;
  }
  if (data['application/json'] !== undefined) {
    return folded(JSON.stringify(data['application/json'], null, 2));
  }
  return folded(String(data['text/plain'] ?? ''));
}

/** Long text shows its first lines and a button that unfolds the rest. */
function folded(text: string): HTMLElement {
  const lines = text.split('\n');
  const block = pre(lines.length > FOLD_LINES ? lines.slice(0, FOLD_LINES).join('\n') : text, 'jp-CodemodeRun-value');
  if (lines.length <= FOLD_LINES) {
    return block;
  }
  const box = el('div', 'jp-CodemodeRun-folded');
  const more = el('button', 'jp-CodemodeRun-more jp-mod-styled', `show all ${lines.length} lines`) as HTMLButtonElement;
  more.type = 'button';
  more.addEventListener('click', () => {
    block.textContent = text;
    more.remove();
  });
  box.append(block, more);
  return box;
}

function media(mimeType: string, data: string): HTMLElement {
  if (IMAGE_TYPES.has(mimeType)) {
    const image = document.createElement('img');
    image.className = 'jp-CodemodeRun-image';
    image.alt = 'image from a tool';
    image.src = `data:${mimeType};base64,${data.replace(/[^A-Za-z0-9+/=]/g, '')}`;
    return image;
  }
  return el('code', '', `<${mimeType || 'binary'}, ${formatSize(Math.floor((data.length * 3) / 4))}>`);
}

function errorBlock(error: ErrorPayload): HTMLElement {
  const box = el('div', 'jp-CodemodeRun-error');
  const code = error.code ? ` [${error.code}]` : '';
  box.append(el('div', 'jp-CodemodeRun-errorLine', `${error.type ?? 'Error'}: ${error.message ?? ''}${code}`));
  if (error.traceback) {
    box.append(pre(error.traceback, 'jp-CodemodeRun-traceback'));
  }
  return box;
}

function tokenBar(tokens: Tokens): HTMLElement {
  const box = el('div', 'jp-CodemodeRun-tokens');
  box.append(el('span', 'jp-CodemodeRun-tokenizer', `tokens (${tokens.tokenizer})`));
  const top = Math.max(tokens.classic_total, tokens.code_mode_total, 1);
  for (const [label, count, name] of [
    ['classic', tokens.classic_total, 'classic'],
    ['code mode', tokens.code_mode_total, 'codemode']
  ] as const) {
    const row = el('span', 'jp-CodemodeRun-tokenRow');
    const bar = el('span', `jp-CodemodeRun-tokenBar jp-mod-${name}`);
    bar.style.width = `${Math.max(2, Math.round((120 * count) / top))}px`;
    row.append(el('span', 'jp-CodemodeRun-tokenLabel', label), bar, el('span', '', formatCount(count)));
    box.append(row);
  }
  box.append(el('span', 'jp-CodemodeRun-verdict', tokenVerdict(tokens)));
  return box;
}

function resultLabel(result: ResultPayload): string {
  return result.kind === 'repr' ? `result (repr of ${aOrAn(result.type ?? 'value')})` : 'result';
}

/** The calls past those kept whole, one row per tool: a big run stays a small output. */
function summaryTable(summary: NonNullable<RunPayload['summary']>, metadata: RunMetadata): HTMLElement {
  const facts = metadata.summary ?? [];
  const more = summary.tools.reduce((sum, row) => sum + row.count, 0);
  const table = el('table', 'jp-CodemodeRun-summary');
  const head = el('tr');
  for (const name of ['tool', 'calls', 'errors', 'total', 'p50', 'p95', 'bytes']) {
    head.append(el('th', '', name));
  }
  table.append(head);
  summary.tools.forEach((row, index) => {
    const fact = facts[index] ?? row;
    const line = el('tr');
    const time = (value?: number) => (value === undefined ? '' : formatDuration(value));
    for (const text of [`${row.server}.${row.tool}`, formatCount(row.count), formatCount(row.errors),
      time(fact.total), time(fact.p50), time(fact.p95), fact.bytes === undefined ? '' : formatSize(fact.bytes)]) {
      line.append(el('td', '', text));
    }
    table.append(line);
  });
  const where = metadata.trace ? `; every call is in ${metadata.trace}` : '';
  const title = `${formatCount(more)} more calls, per tool (the first ${summary.fullCalls} and every failure are shown whole${where})`;
  return section(title, table, 'jp-CodemodeRun-summarySection');
}

function section(title: string, body: HTMLElement, className = ''): HTMLElement {
  const box = el('div', `jp-CodemodeRun-section ${className}`.trim());
  box.append(el('div', 'jp-CodemodeRun-label', title), body);
  return box;
}

function badge(text: string, state: string): HTMLElement {
  const node = el('span', 'jp-CodemodeRun-badge', text);
  node.dataset.state = state;
  return node;
}

function pre(text: string, className: string): HTMLElement {
  return el('pre', className, text);
}

/**
 * The factory: `safe`, as every node is built with textContent. With rank 0 (below) it comes
 * ahead of the static HTML (rank 50), which stays in the bundle for other front ends.
 */
export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [MIME_TYPE],
  createRenderer: options => new RenderedRunReport(options)
};

/** The MIME extension JupyterLab loads (package.json `jupyterlab.mimeExtension`). */
const extension: IRenderMime.IExtension = {
  id: 'jupyter-codemode:run-report',
  rendererFactory,
  rank: 0,
  dataType: 'json'
};

export default extension;

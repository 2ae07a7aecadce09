/**
 * The apps of a report, as a report widget keeps them (see `apps.ts` for one app's panel).
 */
import { AppCallEntry, AppPage, AppPanel, CallApp } from './apps';
import { el } from './dom';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/**
 * The apps of one report, kept across re-renders: a frame moved in the DOM reloads, so the
 * report is redrawn around the panels, which stay where they are. The cell's last call with
 * an app opens by default (in a trusted output: one this front end ran, or that a person
 * trusted); each other one has a button.
 */
export class AppShelf {
  /** `onCall`: told of each call an app made, once it is answered (the widget keeps it). */
  constructor(onCall?: (entry: AppCallEntry) => void) {
    this._onCall = onCall;
  }

  /** Draw `report` into `node`, with the apps of its calls below it. */
  render(node: HTMLElement, report: HTMLElement, calls: { server: string; tool: string; arguments: JsonObject }[],
    facts: { id?: number; app?: CallApp }[], pages: { [digest: string]: AppPage }, runId: string,
    trusted = true): void {
    for (const child of Array.from(node.children)) {
      if (!child.classList.contains('jp-CodemodeRun-app')) {
        child.remove();
      }
    }
    node.prepend(report);
    const items = report.querySelectorAll(':scope > .jp-CodemodeRun-timeline > .jp-CodemodeRun-call');
    const withApps = facts.map((fact, index) => ({ fact, index })).filter(({ fact }) => fact?.app && pages[fact.app.digest]);
    const last = withApps.length ? withApps[withApps.length - 1].index : -1;
    // A call's app is the same app across the live panel's snapshots and the final report
    // (the snapshots may lack the run's id): keyed by the call and the page.
    const keys = new Set(withApps.map(({ fact, index }) => `${fact.id ?? index}:${(fact.app as CallApp).digest}`));
    for (const key of Array.from(this._panels.keys())) {
      if (!keys.has(key)) {
        this._close(key); // another run drawn in this output
      }
    }
    for (const { fact, index } of withApps) {
      const app = fact.app as CallApp;
      const key = `${fact.id ?? index}:${app.digest}`;
      const open = () => this._open(node, key, pages[app.digest], app, { ...calls[index], id: fact.id ?? index }, runId);
      const item = items[index] as HTMLElement | undefined;
      if (item) {
        item.dataset.app = app.uri;
        const button = el('button', 'jp-CodemodeRun-appButton jp-mod-styled', 'app') as HTMLButtonElement;
        button.type = 'button';
        button.title = `draw the app ${app.uri}`;
        button.addEventListener('click', () => (this._panels.has(key) ? this._close(key) : open()));
        item.append(button);
      }
      if (index === last && trusted && !this._seen.has(key)) { // an untrusted notebook's app waits for a click
        open();
      }
      this._seen.add(key);
    }
  }

  /** Close every app. */
  dispose(): void {
    for (const key of Array.from(this._panels.keys())) {
      this._close(key);
    }
  }

  private _open(node: HTMLElement, key: string, page: AppPage, app: CallApp,
    call: { server: string; tool: string; arguments: JsonObject; id: number }, runId: string): void {
    if (this._panels.has(key)) {
      return;
    }
    const panel = new AppPanel(page, app, call, runId, this._onCall);
    this._panels.set(key, panel);
    node.append(panel.node);
  }

  private _close(key: string): void {
    this._panels.get(key)?.dispose();
    this._panels.delete(key);
  }

  private _onCall: ((entry: AppCallEntry) => void) | undefined;
  private _panels = new Map<string, AppPanel>();
  private _seen = new Set<string>();
}

/**
 * The sandbox an app's page runs in: the Content-Security-Policy the MCP Apps spec derives
 * from the resource's `_meta.ui.csp`, put first in the page's head, and the host's theme as
 * the spec's style variables.
 */
import type { AppCsp } from './apps';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** A domain as CSP may name it: scheme, host (a leading `*.` allowed), an optional port. */
const DOMAIN = /^(https?|wss?):\/\/(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:(\d{1,5}|\*))?$/i;

/** The declared domains a policy may name; the rest dropped (no keyword, no quote, no `;`). */
export function domains(list: unknown): string[] {
  return Array.isArray(list) ? list.filter((d): d is string => typeof d === 'string' && DOMAIN.test(d)) : [];
}

/**
 * The Content-Security-Policy of an app, from the spec's construction with every `'self'`
 * left out: an srcdoc document's `'self'` would be JupyterLab's origin, which an app has no
 * business reaching. With no `csp` declared this is the spec's restrictive default.
 */
export function cspFor(csp: AppCsp | undefined): string {
  const resources = domains(csp?.resourceDomains).join(' ');
  const connect = domains(csp?.connectDomains).join(' ');
  const frames = domains(csp?.frameDomains).join(' ');
  const base = domains(csp?.baseUriDomains).join(' ');
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline' ${resources}`.trim(),
    `style-src 'unsafe-inline' ${resources}`.trim(),
    `img-src data: blob: ${resources}`.trim(),
    `font-src data: ${resources}`.trim(),
    `media-src data: blob: ${resources}`.trim(),
    `connect-src ${connect || "'none'"}`,
    `frame-src ${frames || "'none'"}`,
    "object-src 'none'",
    `base-uri ${base || "'none'"}`,
    "form-action 'none'"
  ].join('; ');
}

/** The page with the policy as the first element of its head (parsed inertly, not run). */
export function srcdocFor(html: string, policy: string): string {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const meta = doc.createElement('meta');
  meta.setAttribute('http-equiv', 'Content-Security-Policy');
  meta.setAttribute('content', policy);
  doc.head.prepend(meta);
  return `<!DOCTYPE html>${doc.documentElement.outerHTML}`;
}

/** The spec's style variables from JupyterLab's theme, so an app can look like the notebook. */
const STYLE_VARIABLES: [string, string][] = [
  ['--color-background-primary', '--jp-layout-color0'],
  ['--color-background-secondary', '--jp-layout-color1'],
  ['--color-background-tertiary', '--jp-layout-color2'],
  ['--color-text-primary', '--jp-ui-font-color0'],
  ['--color-text-secondary', '--jp-ui-font-color1'],
  ['--color-text-tertiary', '--jp-ui-font-color2'],
  ['--color-text-danger', '--jp-error-color1'],
  ['--color-text-success', '--jp-success-color1'],
  ['--color-text-warning', '--jp-warn-color1'],
  ['--color-border-primary', '--jp-border-color1'],
  ['--color-border-secondary', '--jp-border-color2'],
  ['--font-sans', '--jp-ui-font-family'],
  ['--font-mono', '--jp-code-font-family']
];

export function hostStyles(): JsonObject {
  const computed = getComputedStyle(document.body);
  const variables: JsonObject = {};
  for (const [name, ours] of STYLE_VARIABLES) {
    const value = computed.getPropertyValue(ours).trim();
    if (value) {
      variables[name] = value;
    }
  }
  return variables;
}

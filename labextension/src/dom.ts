/**
 * One DOM helper for the renderer and the apps host: an element with a class and text, never
 * HTML (the payload's strings go in as textContent).
 */
export function el(tag: string, className = '', text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

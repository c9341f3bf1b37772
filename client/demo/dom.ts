/** Small DOM helpers for the demo page. Text goes in as text nodes, never as HTML. */

/** The element with this id, checked to be of the expected type. */
export function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`#${id} is missing from the page`);
  return found;
}

type Child = Node | string | null | undefined | false;

/**
 * Creates an element: `h('li', { class: 'item', dataset: { id } }, 'text', child)`. Attributes are
 * set with `setAttribute` (so no inline event handlers can sneak in: the CSP would refuse them anyway).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

/** A `<time>` showing `text`, with the machine-readable time and the full time as its tooltip. */
export function timeElement(iso: string, text: string, title?: string): HTMLTimeElement {
  const time = h('time', { datetime: iso, ...(title ? { title } : {}) }, text);
  return time;
}

const iconShapes = {
  key: [
    ['circle', { cx: '7.5', cy: '15.5', r: '4.5' }],
    ['path', { d: 'M10.7 12.3 20 3m-3 3 3 3m-6 0 2 2' }],
  ],
  laptop: [
    ['rect', { x: '4', y: '5', width: '16', height: '11', rx: '1.5' }],
    ['path', { d: 'M2 19.5h20' }],
  ],
  globe: [
    ['circle', { cx: '12', cy: '12', r: '9' }],
    ['path', { d: 'M3 12h18M12 3a14 14 0 0 1 0 18M12 3a14 14 0 0 0 0 18' }],
  ],
  warning: [
    ['path', { d: 'M12 3.5 2.5 20h19L12 3.5z' }],
    ['path', { d: 'M12 10v4.5m0 2.5v.5' }],
  ],
  dot: [['circle', { cx: '12', cy: '12', r: '3' }]],
} as const satisfies Record<string, ReadonlyArray<readonly [string, Record<string, string>]>>;

/** A decorative icon (hidden from assistive technology) drawn with SVG: no icon font, no emoji. */
export function icon(name: keyof typeof iconShapes, className = 'item-icon'): HTMLSpanElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  for (const [key, value] of Object.entries({
    viewBox: '0 0 24 24',
    width: '20',
    height: '20',
    fill: 'none',
    stroke: 'currentColor',
    'stroke-width': '1.8',
    'stroke-linecap': 'round',
    'stroke-linejoin': 'round',
  })) {
    svg.setAttribute(key, value);
  }
  for (const [tag, attributes] of iconShapes[name]) {
    const shape = document.createElementNS(ns, tag);
    for (const [key, value] of Object.entries(attributes)) shape.setAttribute(key, value);
    svg.append(shape);
  }
  return h('span', { class: `${className} icon-${name}`, 'aria-hidden': 'true' }, svg);
}

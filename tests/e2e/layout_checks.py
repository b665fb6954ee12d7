"""What a page must not do at any width, measured in the browser: be or hold a box wider than
its room, reach outside the window, split a word that would fit its line, or draw chart text
under 11 px on screen. Shared by the layout test and the pages' own tests."""

from __future__ import annotations

from typing import Any

OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const hiddenAway = (el) => {
    for (let n = el; n; n = n.parentElement) {
      if (n.classList && n.classList.contains('visually-hidden')) return true;
      if (n.classList && n.classList.contains('skip-link')) return true;
      if (n.nodeType === 1 && getComputedStyle(n).clipPath !== 'none') return true;
    }
    return false;
  };
  const wide = [], outside = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;
    if (hiddenAway(el)) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden') continue;
    if (rect.left < -1 || rect.right > vw + 1) {
      outside.push({el: name(el), left: Math.round(rect.left), right: Math.round(rect.right)});
    }
    if (style.display.startsWith('inline') && style.display !== 'inline-block'
        && style.display !== 'inline-flex' && style.display !== 'inline-grid') continue;
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      wide.push({el: name(el), scroll: el.scrollWidth, client: el.clientWidth});
    }
  }
  return {page: document.scrollingElement.scrollWidth, window: vw, wide, outside};
}"""

# Runs of letters and digits that the browser broke across lines although they would fit
# their block: a run's rectangles (one per line box it touches) at different heights.
SPLIT_JS = """() => {
  const splits = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const run = /[\\p{L}\\p{N}]+/gu;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('script, style, .visually-hidden, svg, option')) continue;
    let clipped = false;
    for (let n = parent; n && !clipped; n = n.parentElement) {
      clipped = getComputedStyle(n).clipPath !== 'none';
    }
    if (clipped) continue;
    let block = parent;
    while (block && getComputedStyle(block).display.startsWith('inline')) {
      block = block.parentElement;
    }
    if (!block || block.getClientRects().length === 0) continue;
    const cs = getComputedStyle(block);
    const room = block.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    for (const m of node.data.matchAll(run)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const rects = [...range.getClientRects()].filter((r) => r.width > 0);
      if (rects.length < 2) continue;
      const tops = new Set(rects.map((r) => Math.round(r.top)));
      if (tops.size < 2) continue;
      const width = rects.reduce((sum, r) => sum + r.width, 0);
      if (width > room) continue;  // longer than its room: breaking it is the only way to fit
      const where = block.tagName.toLowerCase() + (block.id ? '#' + block.id : '')
        + (block.className ? '.' + block.className : '');
      splits.push({word: m[0], lines: tops.size, width: Math.round(width),
                   room: Math.round(room), in: where});
    }
  }
  return splits;
}"""


# Chart text smaller than 11 px on screen: its font size times the chart's drawn scale.
SMALL_TEXT_JS = """() => {
  const small = [];
  for (const svg of document.querySelectorAll('svg')) {
    const box = svg.getBoundingClientRect();
    const view = svg.viewBox && svg.viewBox.baseVal;
    if (!box.width) continue;
    const scale = view && view.width ? box.width / view.width : 1;
    for (const t of svg.querySelectorAll('text')) {
      if (!t.textContent.trim() || !t.getClientRects().length) continue;
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (px < 11) small.push({text: t.textContent.slice(0, 30), px: Math.round(px * 10) / 10});
    }
  }
  return small;
}"""


def layout_faults(page: Any) -> list[str]:
    """Everything on `page` that is wider than its room, outside the window, or a split word."""
    fit = page.evaluate(OVERFLOW_JS)
    faults = []
    if fit["page"] > fit["window"]:
        faults.append(f"the page scrolls sideways ({fit['page']} px in {fit['window']})")
    faults += [f"wider than its room: {w}" for w in fit["wide"]]
    faults += [f"outside the window: {o}" for o in fit["outside"]]
    faults += [f"split word: {w}" for w in page.evaluate(SPLIT_JS)]
    return faults

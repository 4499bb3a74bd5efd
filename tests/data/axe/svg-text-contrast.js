// WCAG contrast of each visible SVG <text> (axe-core leaves SVG text undecided): its fill against
// the topmost filled rect under its centre in the same svg, else the first opaque background of its
// HTML ancestors. Returns [[where, ratio], ...]; tests/integration/test_contrast.py runs it.
() => {
  const rgb = (c) => {
    const m = (c.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number);
    return { v: m.slice(0, 3), a: m.length > 3 ? m[3] : 1 };
  };
  const lum = ([r, g, b]) => {
    const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  return [...document.querySelectorAll("svg text")].filter((t) => t.getBBox().width > 0).map((t) => {
    const box = t.getBoundingClientRect(), cx = box.x + box.width / 2, cy = box.y + box.height / 2;
    const under = [...t.ownerSVGElement.querySelectorAll("rect")].reverse().find((r) => {
      const b = r.getBoundingClientRect(), style = getComputedStyle(r);
      return style.fill !== "none" && rgb(style.fill).a > 0
        && cx >= b.left && cx <= b.right && cy >= b.top && cy <= b.bottom;
    });
    let back = under ? rgb(getComputedStyle(under).fill) : null, node = t.ownerSVGElement;
    while (!back && node) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c.a > 0) back = c;
      node = node.parentElement;
    }
    const tile = t.closest("[data-queue]");
    const where = (tile ? `[data-queue=${tile.dataset.queue}] ` : "") + `svg text "${t.textContent}"`;
    return [where, ratio(rgb(getComputedStyle(t).fill).v, back ? back.v : [255, 255, 255])];
  });
}

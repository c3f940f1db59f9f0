"""What the browser tests check on a rendered page: axe-core's WCAG rules, and the measures axe does
not take (text size, line spacing, target size, reflow at 320 px, a visible keyboard focus).

Every function returns a list of readable descriptions (empty: nothing wrong), so a test can write
``assert await small_text(page, 16) == []`` and read the offenders in the failure message.
"""

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parents[1] / "clients" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# Shared by the checks below: which elements are shown to a sighted reader, and how to name one.
HELPERS = """
const shown = (el) => {
  const box = el.getBoundingClientRect();
  if (box.width <= 0 || box.height <= 0) return false;
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || style.visibility === 'collapse') return false;
  return !visuallyHidden(el);
};
const visuallyHidden = (el) => {
  for (let node = el; node && node !== document.documentElement; node = node.parentElement) {
    const style = getComputedStyle(node);
    const positioned = style.position === 'absolute' || style.position === 'fixed';
    if (positioned && style.clip !== 'auto' && style.clip !== '') return true;
    if (/^inset\\(\\s*50%/.test(style.clipPath)) return true;
    const box = node.getBoundingClientRect();
    if ((box.width <= 1 || box.height <= 1) && style.overflow !== 'visible') return true;
  }
  return false;
};
const ownText = (el) => [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
const NO_TEXT_INPUTS = ['hidden', 'checkbox', 'radio', 'range', 'color', 'image'];
const textual = (el) => {
  if (el.closest('[aria-hidden="true"]')) return false;
  const tag = el.localName;
  if (tag === 'input') return !NO_TEXT_INPUTS.includes((el.getAttribute('type') || 'text').toLowerCase());
  if (['select', 'textarea', 'button'].includes(tag)) return true;
  if (['script', 'style', 'noscript', 'template', 'title', 'option', 'optgroup'].includes(tag)) return false;
  return ownText(el);
};
const label = (el) => {
  const classes = [...el.classList].map((c) => '.' + c).join('');
  let text = (el.localName === 'input' || el.localName === 'textarea')
    ? (el.value || el.placeholder || el.getAttribute('aria-label') || el.name || '')
    : (el.innerText || el.textContent || el.getAttribute('aria-label') || '');
  text = text.replace(/\\s+/g, ' ').trim();
  if (text.length > 40) text = text.slice(0, 40) + '…';
  return `<${el.localName}${classes}> '${text}'`;
};
const px = (n) => `${Math.round(n * 100) / 100}px`;
"""

TEXT_ELEMENTS = """
const texts = [...document.body.querySelectorAll('*')].filter((el) => textual(el) && shown(el));
"""


def script(parameter: str, body: str) -> str:
    """A function for ``page.evaluate`` with the helpers above in scope."""
    return f"({parameter}) => {{\n{HELPERS}\n{body}\n}}"


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.0/2.1/2.2 A and AA violations on the page, simplified for an assertion message.

    axe is injected as an inline script: a page whose Content-Security-Policy forbids those needs a
    browser context opened with ``bypass_csp=True``.
    """
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=AXE)
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        raise AssertionError("axe-core did not load: does the page's CSP forbid it? Open the context with bypass_csp")
    return await page.evaluate(
        """async (tags) => {
          const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
          return result.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            nodes: v.nodes.map((n) => ({target: n.target, failureSummary: n.failureSummary})),
          }));
        }""",
        AXE_TAGS,
    )


async def small_text(page: Page, min_px: float) -> list[str]:
    """Shown text (and text fields, selects, buttons) whose font size is under ``min_px``."""
    body = """
      return texts.flatMap((el) => {
        const size = parseFloat(getComputedStyle(el).fontSize);
        return size < minPx - 0.005 ? [`${label(el)} ${px(size)}`] : [];
      });"""
    return await page.evaluate(script("minPx", TEXT_ELEMENTS + body), min_px)


async def tight_lines(page: Page, min_ratio: float = 1.3) -> list[str]:
    """Shown text whose line height is under ``min_ratio`` times its font size (``normal`` counts as 1.2)."""
    body = """
      return texts.flatMap((el) => {
        const style = getComputedStyle(el);
        const size = parseFloat(style.fontSize);
        const height = style.lineHeight === 'normal' ? size * 1.2 : parseFloat(style.lineHeight);
        const ratio = height / size;
        return ratio < minRatio - 0.005 ? [`${label(el)} ${px(height)}/${px(size)} = ${ratio.toFixed(2)}`] : [];
      });"""
    return await page.evaluate(script("minRatio", TEXT_ELEMENTS + body), min_ratio)


TARGETS = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [role="button"]'


async def small_targets(page: Page, min_px: float) -> list[str]:
    """Shown controls narrower or lower than ``min_px`` (WCAG 2.5.8 measures 24 px).

    A checkbox or radio button counts together with its label(s). A link in running text is exempt
    (WCAG's inline exception): an ``inline`` link whose closest block ancestor holds more text than it.
    """
    body = """
      const block = (el) => {
        let node = el.parentElement;
        while (node && getComputedStyle(node).display.startsWith('inline')) node = node.parentElement;
        return node;
      };
      const inRunningText = (el) => {
        if (el.localName !== 'a' || getComputedStyle(el).display !== 'inline') return false;
        const around = block(el);
        const text = (node) => (node.textContent || '').replace(/\\s+/g, ' ').trim();
        return around !== null && text(around).length > text(el).length;
      };
      const box = (el) => {
        const rects = [el, ...(['checkbox', 'radio'].includes(el.type) ? el.labels || [] : [])]
          .map((node) => node.getBoundingClientRect())
          .filter((r) => r.width > 0 && r.height > 0);
        if (!rects.length) return null;
        const left = Math.min(...rects.map((r) => r.left)), right = Math.max(...rects.map((r) => r.right));
        const top = Math.min(...rects.map((r) => r.top)), bottom = Math.max(...rects.map((r) => r.bottom));
        return {width: right - left, height: bottom - top};
      };
      return [...document.querySelectorAll(selector)].flatMap((el) => {
        const labelled = ['checkbox', 'radio'].includes(el.type) && el.labels && el.labels.length > 0;
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden' || (!labelled && !shown(el)) || inRunningText(el)) return [];
        const size = box(el);
        if (size === null || size.width >= minPx - 0.005 && size.height >= minPx - 0.005) return [];
        return [`${label(el)} ${px(size.width)}×${px(size.height)}`];
      });"""
    return await page.evaluate(script("[minPx, selector]", body), [min_px, TARGETS])


async def horizontal_overflow(page: Page) -> bool:
    """Whether the page scrolls sideways (at 320 px wide it must not: WCAG 1.4.10, reflow)."""
    return await page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


async def focus_visible(page: Page, max_tabs: int = 40) -> list[str]:
    """Press Tab up to ``max_tabs`` times; the focused elements that show neither an outline nor a box shadow.

    Stops early when focus leaves the page or comes back to the first element reached.
    """
    check = script(
        "",
        """
      const el = document.activeElement;
      if (!el || el === document.body || el === document.documentElement) return null;
      const style = getComputedStyle(el);
      const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
      const shadowed = style.boxShadow !== 'none';
      const seen = (window.focusCheckSeen ??= new Map());
      if (!seen.has(el)) seen.set(el, seen.size);
      return {key: seen.get(el), name: label(el), visible: outlined || shadowed};""",
    )
    await page.evaluate("window.focusCheckSeen = new Map()")
    missing: list[str] = []
    first: int | None = None
    for _ in range(max_tabs):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(check)
        if focused is None or focused["key"] == first:
            break
        first = focused["key"] if first is None else first
        if not focused["visible"]:
            missing.append(focused["name"])
    return missing

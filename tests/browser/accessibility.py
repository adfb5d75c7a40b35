"""Each page the browser tests visit is checked with axe-core against WCAG
2.1 A and AA (``check_accessibility``): a serious or critical violation fails
the test, naming the rule, the page and the elements.

axe-core is vendored for the tests only (tests/browser/axe/, see its README).
The portal's CSP (``script-src 'self'``) refuses a script tag added from
outside, so axe goes in through ``page.evaluate``: Playwright runs it over
the DevTools protocol, which the page's CSP does not govern, and the page
itself is left as it is.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

AXE = Path(__file__).parent / "axe" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = ("serious", "critical")

# The violations, in plain data: nothing of the page's objects crosses over.
_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html,
                              summary: n.failureSummary}))}));
}"""


@cache
def _axe_source() -> str:
    # A trailing expression, so evaluating the script returns a plain value
    # rather than whatever its last statement left.
    return AXE.read_text(encoding="utf-8") + "\n;true"


def violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on ``page`` as it is now (any impact)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    return page.evaluate(_RUN, TAGS)


def describe(found: list[dict], url: str) -> str:
    """``found`` as a readable list: rule, impact, what it asks, each element."""
    lines = [f"axe-core found {len(found)} serious or critical WCAG 2.1 A/AA "
             f"violation(s) on {url}:"]
    for violation in found:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} "
                     f"<{violation['url']}>")
        for node in violation["nodes"][:10]:
            lines.append(f"    at {node['target']}: {node['html'][:200]}")
            if node["summary"]:
                lines += [f"      {line}" for line in node["summary"].splitlines()]
        if len(violation["nodes"]) > 10:
            lines.append(f"    ... and {len(violation['nodes']) - 10} more")
    return "\n".join(lines)


def check_accessibility(page) -> None:
    """Fail (AssertionError) if ``page`` has a serious or critical WCAG 2.1
    A/AA violation that axe-core can find."""
    page.wait_for_load_state()
    found = [v for v in violations(page) if v["impact"] in FAILING]
    assert not found, describe(found, page.url)

"""The documentation site's set-up (mkdocs.yml, docs/site_hooks.py, docs/check_site.py), without building it:
`make docs` builds it strictly and `make docs-check` renders it in headless Chromium (CI runs both)."""
import importlib
import sys

import yaml
from paths import ROOT

sys.path.insert(0, str(ROOT / "docs"))
import check_site  # noqa: E402
import site_hooks  # noqa: E402


class _Ignore(yaml.SafeLoader):
    """mkdocs.yml as plain data (it has no tags today; any later !!python tag would be read as None)."""


_Ignore.add_multi_constructor("", lambda loader, suffix, node: None)
CONFIG = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Ignore)


def _nav_pages(nav):
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        yield from (_nav_pages(value) if isinstance(value, list) else [value])


def test_nav_lists_every_guide_page_notebook_and_api_page():
    pages = list(_nav_pages(CONFIG["nav"]))
    assert len(pages) == len(set(pages))
    guides = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    notebooks = [site_hooks.notebook_page(p.stem) for p in site_hooks.NOTEBOOK_SOURCES]
    api = ["api/index.md"] + [site_hooks.api_page(name) for name, _ in site_hooks.MODULES]
    assert sorted(p for p in pages if "/" not in p) == guides
    assert [p for p in pages if p.startswith("notebooks/")] == notebooks and len(notebooks) == 12
    assert [p for p in pages if p.startswith("api/")] == api


def test_api_pages_name_modules_that_import_and_cover_the_package():
    """Each API page's module imports; every public module of the package's top level has a page."""
    names = [name for name, _ in site_hooks.MODULES]
    for name in names:
        importlib.import_module(name)
    public = {p.stem for p in (ROOT / "minidense").glob("*.py") if not p.name.startswith("_")}
    public |= {p.name for p in (ROOT / "minidense").iterdir() if (p / "__init__.py").is_file()}
    documented = {n.split(".")[1] for n in names if "." in n}
    for_tools_not_readers = {"cli", "demo", "assignments", "ops", "benchmark", "opinfo"}   # opinfo: the tests' op table
    on_the_top_level_page = {"creation", "constants"}   # md.zeros, md.IGNORE_INDEX, ...: `::: minidense` shows them
    missing = public - documented - for_tools_not_readers - on_the_top_level_page
    assert not missing, f"public modules without an API page (docs/site_hooks.py MODULES): {sorted(missing)}"


def test_site_is_built_offline_and_strict():
    assert CONFIG["theme"]["name"] == "material" and CONFIG["theme"]["font"] is False
    assert CONFIG["strict"] is True
    for key in ("extra_javascript", "extra_css"):
        assert not any(str(u).startswith(("http:", "https:", "//")) for u in CONFIG.get(key, []))
    jupyter = next(p["mkdocs-jupyter"] for p in CONFIG["plugins"] if isinstance(p, dict) and "mkdocs-jupyter" in p)
    assert jupyter["execute"] is False
    assert jupyter["custom_mathjax_url"].startswith("../../assets/mathjax/MathJax.js")


def test_guide_links_to_notebooks_go_to_the_notebook_pages():
    class Page:
        class file:
            src_uri = "getting_started.md"
    text = "[03 im2col](../notebooks/03_im2col.py) and [x](other.md)"
    got = site_hooks.on_page_markdown(text, Page, {}, None)
    assert got == "[03 im2col](notebooks/03_im2col.ipynb) and [x](other.md)"


def test_outside_reference_check_flags_cdn_scripts_styles_and_fonts(tmp_path):
    """The check that the site loads nothing from other hosts can fail: it flags each kind of outside reference."""
    (tmp_path / "index.html").write_text(
        '<script src="https://cdn.example.org/mathjax.js"></script>\n'
        '<link rel="stylesheet" href="//fonts.example.org/css?family=Roboto">\n'
        '<link rel="canonical" href="https://example.org/">\n'
        '<script src="assets/local.js"></script><img src="images/scenes.png">\n'
        '<a href="https://example.org/">a link is not a load</a>')
    (tmp_path / "style.css").write_text("@import url(https://fonts.example.org/a.css);\n"
                                        "b { background: url('img/local.png') }")
    problems = check_site.outside_references(tmp_path)
    assert len(problems) == 3, problems
    assert any("cdn.example.org" in p for p in problems) and any("style.css" in p for p in problems)

"""`make docs-check`: the built site (build/site) in a real browser, headless Chromium, driven over the Chrome
DevTools protocol (a websocket; the `websocket-client` package of the `docs` extra).

    python docs/check_site.py [--site build/site] [--shots build/screenshots] [--chromium /usr/bin/chromium]

Before any browser: no page or stylesheet of the site refers to a script, style sheet or font on another host, and
the API page of minidense.functional has an entry for every public F.* function, with its docstring.
Then, served from a local http.server on 127.0.0.1, each of PAGES is opened at 1280x900 and must: load, show each
of its pictures (every <img> loaded, at least as many as PAGES says), show its typeset maths where it has some,
log no console error or uncaught exception, fail no request and ask no other host for anything. A screenshot of
each goes to build/screenshots/NAME.png. Any failure is listed and the exit status is 1.
"""
import argparse
import functools
import html
import http.server
import inspect
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: name, path in the site, the least number of pictures it shows, a CSS selector that must match (its content); the
#: screenshot shows the top of the page, or the place the path's #anchor names, or for a notebook its first picture
PAGES = [
    ("home", "", 2, "h1"),
    ("api_conv2d", "api/minidense.functional/#minidense.functional.conv2d", 0, "[id='minidense.functional.conv2d']"),
    ("notebook_02", "notebooks/02_gradient_checking/", 1, ".MathJax .math"),
]
EXTERNAL_REFERENCE = re.compile(
    r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=["'](?:https?:)?//[^"']+["'][^>]*>"""
    r"""|@import\s+(?:url\()?["']?(?:https?:)?//|url\(["']?(?:https?:)?//""", re.I)


def outside_references(site):
    """Each script, style sheet, font or picture that a built page or style sheet would fetch from another host."""
    problems = []
    for path in list(site.rglob("*.html")) + list(site.rglob("*.css")):
        if "assets/mathjax" in path.as_posix():
            continue
        for match in EXTERNAL_REFERENCE.finditer(path.read_text(encoding="utf-8", errors="replace")):
            if match.group(0).lower().startswith("<link") and "stylesheet" not in match.group(0).lower() \
                    and "preload" not in match.group(0).lower() and "icon" not in match.group(0).lower():
                continue   # <link rel="canonical"> and the like load nothing
            problems.append(f"{path.relative_to(site)}: refers to another host: {match.group(0)[:160]}")
    return problems


def api_problems(site):
    """F.* functions missing from the API page of minidense.functional, or shown without their docstring."""
    import minidense.functional as F
    problems = []
    api = (site / "api" / "minidense.functional" / "index.html").read_text(encoding="utf-8")
    public = [n for n, obj in vars(F).items() if not n.startswith("_") and inspect.isfunction(obj)]
    missing = [n for n in public if f'id="minidense.functional.{n}"' not in api]
    if missing:
        problems.append(f"the API page of minidense.functional has no entry for {missing}")
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", api)).split())
    for name in ("conv2d", "im2col", "conv_transpose2d", "max_pool2d", "cross_entropy", "sum"):
        first = inspect.getdoc(getattr(F, name)).splitlines()[0].replace("``", "")
        if first not in text:
            problems.append(f"the API page does not carry F.{name}'s docstring ({first!r})")
    return problems


class DevTools:
    """One page target of Chromium, over its websocket: calls, and the events they cause."""

    def __init__(self, ws_url):
        import websocket
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method, timeout):
        deadline = time.monotonic() + timeout
        self.ws.settimeout(1)
        try:
            while time.monotonic() < deadline:
                if any(e.get("method") == method for e in self.events):
                    return True
                try:
                    self.events.append(json.loads(self.ws.recv()))
                except Exception as err:   # the websocket's timeout: look again
                    if type(err).__name__ != "WebSocketTimeoutException":
                        raise
            return False
        finally:
            self.ws.settimeout(60)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluating {expression[:60]!r}: {result['exceptionDetails']}")
        return result["result"].get("value")


def serve(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_chromium(chromium, profile):
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--no-default-browser-check", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port_file = pathlib.Path(profile) / "DevToolsActivePort"
    for _ in range(300):
        if port_file.is_file() and port_file.read_text().strip():
            port = int(port_file.read_text().split()[0])
            return proc, port
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}:\n{proc.stderr.read()[-2000:]}")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("chromium did not open its DevTools port within 30 s")


PAGE_STATE = """(async () => {
  await new Promise(r => setTimeout(r, 300));
  if (window.MathJax && MathJax.Hub) { await new Promise(r => MathJax.Hub.Queue(r)); }
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  return {
    ready: document.readyState,
    title: document.title,
    images: imgs.length,
    shown: (() => { const out = document.querySelector(".jupyter-wrapper img");
                    if (out) { out.scrollIntoView({block: "center"}); } return !!out; })(),
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src).slice(0, 5),
    selector: document.querySelectorAll(SELECTOR).length,
    text: document.body.innerText.length,
  };
})()"""


def check_page(tools, base, name, path, min_images, selector, shots):
    """The problems of one page; its screenshot saved."""
    tools.events.clear()
    url = base + path
    tools.call("Page.navigate", url=url)
    problems = []
    if not tools.wait_for("Page.loadEventFired", 60):
        problems.append(f"{name}: {url} did not finish loading within 60 s")
    state = tools.evaluate(PAGE_STATE.replace("SELECTOR", json.dumps(selector)))
    tools.wait_for("Never.happens", 1.0)   # gather the events of the last moment (and let a scroll settle)
    shot = shots / f"{name}.png"
    shot.write_bytes(__import__("base64").b64decode(tools.call("Page.captureScreenshot", format="png")["data"]))
    if state["images"] < min_images:
        problems.append(f"{name}: {state['images']} pictures, expected at least {min_images}")
    if state["broken"]:
        problems.append(f"{name}: pictures that did not load: {state['broken']}")
    if not state["selector"]:
        problems.append(f"{name}: nothing matches {selector!r} (the page's content did not render)")
    if state["text"] < 200:
        problems.append(f"{name}: the page shows almost no text ({state['text']} characters)")
    for event in tools.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            problems.append(f"{name}: console error: {text[:300]}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            problems.append(f"{name}: uncaught exception: "
                            f"{details.get('exception', {}).get('description', details.get('text'))!s:.300}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            problems.append(f"{name}: browser error: {entry.get('text')} {entry.get('url', '')}"[:300])
        elif method == "Network.requestWillBeSent":
            requested = params["request"]["url"]
            if not (requested.startswith(base) or requested.startswith(("data:", "blob:", "about:"))):
                problems.append(f"{name}: asked another host: {requested[:200]}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            problems.append(f"{name}: a request failed: {params.get('errorText')} ({params.get('type')})")
    return state, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default=str(ROOT / "build" / "site"))
    parser.add_argument("--shots", default=str(ROOT / "build" / "screenshots"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    site, shots = pathlib.Path(args.site), pathlib.Path(args.shots)
    if not (site / "index.html").is_file():
        print(f"docs-check: no site in {site}; run make docs first")
        return 1
    if not os.access(args.chromium, os.X_OK):
        print(f"docs-check: no Chromium at {args.chromium}")
        return 1
    shots.mkdir(parents=True, exist_ok=True)
    problems = outside_references(site) + api_problems(site)
    server = serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc, port = start_chromium(args.chromium, profile)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as response:
                target = next(t for t in json.load(response) if t["type"] == "page")
            tools = DevTools(target["webSocketDebuggerUrl"])
            for domain in ("Page", "Runtime", "Log", "Network"):
                tools.call(f"{domain}.enable")
            tools.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
            for name, path, min_images, selector in PAGES:
                state, found = check_page(tools, base, name, path, min_images, selector, shots)
                problems += found
                print(f"docs-check: {name}: {base}{path} -> {state['title']!r}, {state['images']} pictures, "
                      f"{'ok' if not found else f'{len(found)} problems'}; screenshot {shots / (name + '.png')}")
            tools.ws.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            server.shutdown()
    for problem in problems:
        print("docs-check: FAIL:", problem)
    print(f"docs-check: {len(PAGES)} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

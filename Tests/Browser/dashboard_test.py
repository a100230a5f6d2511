#!/usr/bin/env python3
"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium opens /admin of a running
`wooqueue serve` with real data in Redis and PostgreSQL, checks the figures it shows against
`wooqueue status --json` and the table, retries a dead-lettered job once its cause is fixed and sees it done, and
saves a screenshot. Run by `make test`; it fails (never skips) when something it needs is missing."""
import json, os, random, socket, string, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("WOOQUEUE_BIN", os.path.join(ROOT, ".build/debug/wooqueue"))
REDIS = os.environ.get("WOOQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:16379/0")
DATABASE = os.environ.get("WOOQUEUE_TEST_DATABASE_URL", "postgresql://wooqueue:wooqueue@127.0.0.1:15432/wooqueue_test")
SCREENSHOT = os.environ.get("WOOQUEUE_SCREENSHOT", os.path.join(ROOT, ".build/dashboard.png"))
FIXTURES = os.path.join(ROOT, "Tests/Fixtures/woocommerce")

try:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
except ImportError:
    sys.exit("selenium is missing: `pip install selenium` (make test installs it)")


def wait_until(what, condition, timeout=30.0):
    """Polls `condition` every 100 ms until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=10))
    prefix, schema, port, admin_port = f"wqbrowser-{suffix}", f"wqbrowser_{suffix}", free_port(), free_port()
    work = tempfile.mkdtemp(prefix="wqbrowser-")
    config_path = os.path.join(work, "config.json")
    with open(config_path, "w") as f:
        json.dump({
            "redis": {"url": REDIS, "keyPrefix": prefix},
            "database": {"url": DATABASE},
            "http": {"host": "127.0.0.1", "port": port},
            "admin": {"port": admin_port, "allowLoopbackWithoutCredentials": True},
            "webhooks": {"secrets": ["browser-test"], "spoolDirectory": os.path.join(work, "spool")},
            "inventory": {"table": f"{schema}.inv_items", "stateSchema": f"{schema}_state"},
            "jobTypes": {"inventory.upsert": {"queue": "bulk", "handler": "inventory"}},
        }, f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOOQUEUE_") or k.startswith("WOOQUEUE_TEST_")}

    def wq(*args, check=True):
        result = subprocess.run([BIN, *args, "--config", config_path], env=env, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"wooqueue {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def psql(sql):
        return subprocess.run(["psql", DATABASE, "-Atc", sql], capture_output=True, text=True, check=True).stdout.strip()

    def status():
        return {q["name"]: q for q in json.loads(wq("status", "--json"))["queues"]}

    server = driver = None
    try:
        wq("migrate")
        # Real data: three products for the table, one whose price the ERP column cannot hold, and plain jobs.
        for name in ["product-simple.json", "product-numeric-sku.json", "product-unmanaged-stock.json"]:
            wq("enqueue", "--type", "inventory.upsert", "--payload", "@" + os.path.join(FIXTURES, name))
        with open(os.path.join(FIXTURES, "product-simple.json")) as f:
            poison = json.load(f)
        poison.update({"id": 7777, "sku": "POISON-1", "regular_price": "123456789012345.5", "price": "123456789012345.5"})
        poison_path = os.path.join(work, "poison.json")
        with open(poison_path, "w") as f:
            json.dump(poison, f)
        wq("enqueue", "--type", "inventory.upsert", "--payload", "@" + poison_path, "--key", "POISON-1")
        wq("enqueue", "--type", "noop", "--queue", "low", "--count", "5")
        wq("enqueue", "--type", "noop", "--queue", "medium", "--delay", "1h", "--count", "2")

        server = subprocess.Popen([BIN, "serve", "--log-level", "warning", "--config", config_path], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_until("the jobs to settle", lambda: (lambda s: s["bulk"]["done"] == 3 and s["bulk"]["dead"] == 1
                                                  and s["low"]["done"] == 5)(status()))

        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100"]:
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
        base = f"http://127.0.0.1:{admin_port}"  # the admin listener

        # The figures on the page are those of `status --json` and of the table.
        driver.get(base + "/admin")
        def shown():
            rows = driver.find_elements(By.CSS_SELECTOR, "#queues tbody tr")
            return {r.find_elements(By.TAG_NAME, "td")[0].text: [c.text for c in r.find_elements(By.TAG_NAME, "td")[1:7]] for r in rows}
        truth = status()
        on_page = shown()
        assert set(on_page) == set(truth), f"queues on the page {sorted(on_page)} differ from status {sorted(truth)}"
        for name, queue in truth.items():
            expected = [str(queue[k]) for k in ["ready", "active", "delayed", "dead", "done", "failed"]]
            assert on_page[name] == expected, f"queue {name}: the page shows {on_page[name]}, status --json says {expected}"
        assert on_page["medium"][2] == "2" and on_page["bulk"][3] == "1", on_page
        table_rows = psql(f"SELECT count(*) FROM {schema}.inv_items")
        assert driver.find_element(By.ID, "table-rows").text == table_rows == "3", (driver.find_element(By.ID, "table-rows").text, table_rows)
        assert "allowLoopbackWithoutCredentials" in driver.page_source
        # The stylesheet is a file the page's Content-Security-Policy lets in (no inline style is allowed).
        header = driver.find_element(By.TAG_NAME, "header").value_of_css_property("background-color")
        assert header in ("rgba(29, 35, 39, 1)", "rgb(29, 35, 39)"), f"the stylesheet did not load: header background {header}"

        # Fix the cause (wider price columns), then retry the dead job from the review page.
        psql(f"ALTER TABLE {schema}.inv_items ALTER COLUMN costoestandar TYPE numeric(20,4), ALTER COLUMN costopromedio TYPE numeric(20,4)")
        driver.get(base + "/admin/dlq?queue=bulk&key=POISON")
        assert "22003" in driver.page_source, "the dead job shows PostgreSQL's error"
        driver.find_element(By.CSS_SELECTOR, "input[name=id]").click()
        driver.find_element(By.XPATH, "//button[text()='Retry selected']").click()
        wait_until("the retry confirmation", lambda: "1 sent back to their queue" in driver.page_source, timeout=10)
        wait_until("the retried job to be done", lambda: (lambda s: s["bulk"]["done"] == 4 and s["bulk"]["dead"] == 0)(status()))
        assert psql(f"SELECT count(*) FROM {schema}.inv_items WHERE item = 'POISON-1'") == "1"

        # The overview refreshes itself: without a reload it shows the job done and the fourth row.
        driver.get(base + "/admin")
        wait_until("the page to show bulk done 4", lambda: shown().get("bulk", [None] * 6)[4] == "4"
                   and driver.find_element(By.ID, "table-rows").text == "4", timeout=15)
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        assert driver.save_screenshot(SCREENSHOT), "could not save the screenshot"
        print(f"browser test passed; screenshot: {SCREENSHOT}")
    finally:
        if driver:
            driver.quit()
        if server:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        subprocess.run(["psql", DATABASE, "-qc", f"SET client_min_messages = warning; DROP SCHEMA IF EXISTS {schema} CASCADE; DROP SCHEMA IF EXISTS {schema}_state CASCADE"],
                       capture_output=True)
        redis_port = REDIS.rsplit(":", 1)[1].split("/")[0]
        keys = subprocess.run(["redis-cli", "-p", redis_port, "--scan", "--pattern", f"{prefix}:*"], capture_output=True, text=True).stdout.split()
        if keys:
            subprocess.run(["redis-cli", "-p", redis_port, "DEL", *keys], capture_output=True)


if __name__ == "__main__":
    main()

"""Runs one chrome-context script in a running Thunderbird through Marionette.

    python marionette.py PORT SCRIPT.js [ARGS_JSON]
    python marionette.py PORT --screenshot OUT.png   (the most recent Thunderbird window)

The script is the body of an async function: `arguments[0]` is ARGS (parsed JSON) and
`arguments[1]` the callback to call with the (JSON-serialisable) result. Prints the
result as one JSON line on stdout; a script error exits 1 with the message on stderr.
"""
import json
import sys

from marionette_driver.marionette import Marionette


def main():
    port = int(sys.argv[1])
    client = Marionette(host="127.0.0.1", port=port)
    client.start_session()
    try:
        client.set_context(client.CONTEXT_CHROME)
        if sys.argv[2] == "--screenshot":
            with open(sys.argv[3], "wb") as out:
                out.write(client.screenshot(format="binary"))
            print(json.dumps(sys.argv[3]))
            return
        client.timeout.script = 120
        script = open(sys.argv[2], encoding="utf-8").read()
        args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
        result = client.execute_async_script(
            script, script_args=[args], new_sandbox=True, sandbox="system"
        )
        print(json.dumps(result))
    finally:
        client.delete_session(send_request=True)


if __name__ == "__main__":
    main()

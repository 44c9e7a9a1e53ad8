"""Stands in for the application's manage.py in the end-to-end test.

`manage.py test` passes; `manage.py test functional_tests` also needs the frontend's checkout
(FRONTEND_DIR) and says which frontend commit it tested.
"""
import os
import pathlib
import subprocess
import sys

if "functional_tests" in sys.argv[1:]:
    frontend = pathlib.Path(os.environ["FRONTEND_DIR"])
    if not (frontend / "site" / "index.html").is_file():
        sys.exit(f"no frontend at {frontend}")
    commit = subprocess.run(
        ["git", "-C", str(frontend), "rev-parse", "HEAD"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    print(f"Ran the functional tests against the frontend at {commit}: OK")
else:
    print("Ran the application tests: OK", sys.argv[1:])

"""Fill in deploy/nginx/atlas.conf.template.

    python deploy/nginx/render.py --server-name atlas.example.gov.uk \
        --certificate /etc/ssl/atlas/fullchain.pem --certificate-key /etc/ssl/atlas/privkey.pem \
        > /etc/nginx/conf.d/atlas.conf

Standard library only, so it runs on the proxy host without Atlas installed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "atlas.conf.template"


def render(server_name: str, certificate: str, certificate_key: str, upstream: str = "127.0.0.1:3000",
           https_port: int | str = 443, http_port: int | str = 80) -> str:
    values = {"SERVER_NAME": server_name, "CERTIFICATE": certificate, "CERTIFICATE_KEY": certificate_key,
              "UPSTREAM": upstream, "HTTPS_PORT": str(https_port), "HTTP_PORT": str(http_port)}
    for name, value in values.items():
        if not value or re.search(r"[\s;{}]", value):
            raise ValueError(f"{name.lower().replace('_', '-')}: {value!r} cannot go into an nginx directive")
    text = TEMPLATE.read_text()
    missing = set(re.findall(r"\{\{([A-Z_]+)\}\}", text)) - set(values)
    if missing:
        raise ValueError(f"the template has fields this script does not fill: {sorted(missing)}")
    return re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: values[m.group(1)], text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-name", required=True, help="the public host name (BASE_URL's host)")
    parser.add_argument("--certificate", required=True, help="PEM certificate chain")
    parser.add_argument("--certificate-key", required=True, help="PEM private key")
    parser.add_argument("--upstream", default="127.0.0.1:3000", help="where Atlas listens (default %(default)s)")
    parser.add_argument("--https-port", default="443")
    parser.add_argument("--http-port", default="80")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(render(args.server_name, args.certificate, args.certificate_key, args.upstream,
                                args.https_port, args.http_port))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

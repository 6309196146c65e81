#!/usr/bin/python3
"""A throw-away SMTP server for the notification tests.

Listens on 127.0.0.1 on a free port (chosen by the kernel), writes the port to --port-file once
it accepts connections, and saves each accepted message as <dir>/<n>.eml (written to a temporary
name first, then renamed) with <dir>/<n>.json holding the envelope (mail_from, rcpt_tos).

  --fail-first N         answer the first N messages with "451 try again later"
  --user U --password P  require AUTH (PLAIN or LOGIN, allowed without TLS) with these credentials

Runs until killed (SIGTERM).
"""
import argparse
import asyncio
import json
import logging
import os
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, folder, fail_first):
        self.folder = folder
        self.fail_first = fail_first
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.fail_first > 0:
            self.fail_first -= 1
            return "451 4.3.0 Temporary failure, try again later"
        self.count += 1
        name = os.path.join(self.folder, "%04d" % self.count)
        with open(name + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos)}, f)
        os.replace(name + ".json.tmp", name + ".json")
        with open(name + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.replace(name + ".eml.tmp", name + ".eml")
        return "250 2.0.0 OK"


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok)
    return authenticate


async def main():
    # aiosmtpd warns about AUTH without TLS, which is the point here.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--user")
    parser.add_argument("--password", default="")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    handler = Sink(args.dir, args.fail_first)
    options = {"hostname": "sink.test", "decode_data": False}
    if args.user:
        options.update(authenticator=make_authenticator(args.user, args.password), auth_required=True,
                       auth_require_tls=False)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **options), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(str(port))
    os.replace(args.port_file + ".tmp", args.port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())

#!/usr/bin/python3
"""The labels service: a Wonderland worker in Python, written from docs/messages.md alone.

It serves the commands of the `shipping-label` example workflow (definitions/) on its command
queue, `labels.commands`:

  labels.print        {recipient, address, fail_first?, delay_ms?}
                      -> {label_id, text, attempts, printed_by}
  labels.void         {label_id} -> {label_id, status: "voided"}        (print's compensation)
  labels.book_pickup  {label_id, carrier} -> {pickup_id, carrier}       (carrier "post" or
                                                                         "courier", else refused)
  labels.get          {label_id} -> {label_id, recipient, text, status, pickup_id}   (a query)

Every command that changes state is deduplicated by its idempotency key in the worker's SQLite
database, in the same transaction as its effect. Configuration comes from the environment (see
README.md). Needs Debian's python3-pika.
"""

import datetime
import json
import logging
import os
import signal
import sqlite3
import sys
import time
import uuid

import pika
import pika.exceptions

SERVICE = "labels"
MAX_ATTEMPTS = 5  # docs/messages.md, "Bounded redelivery"
ATTEMPT_HEADER = "x-wonderland-attempt"
DEAD_LETTER_EXCHANGE = "wonderland.dlx"
LOGS_EXCHANGE = "wonderland.logs"
CARRIERS = ("post", "courier")
MAX_DELAY_MS = 10000
MAX_DEPTH = 128  # docs/messages.md, "Bounded envelopes"
MAX_MESSAGE_BYTES = 64 << 20


class Config:
    def __init__(self, env):
        var_dir = env.get("WONDERLAND_VAR_DIR", "var")
        self.amqp_url = env.get("WONDERLAND_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
        self.queue = env.get("WONDERLAND_LABELS_QUEUE", "labels.commands")
        self.db_path = env.get("WONDERLAND_LABELS_DB", os.path.join(var_dir, "labels.db"))
        self.max_length = int(env.get("WONDERLAND_COMMAND_QUEUE_MAX_LENGTH", "10000"))
        self.queue_type = env.get("WONDERLAND_AMQP_QUEUE_TYPE", "classic")
        self.log_level = env.get("WONDERLAND_LOG_LEVEL", "info")
        if self.queue_type not in ("classic", "quorum"):
            raise ValueError("WONDERLAND_AMQP_QUEUE_TYPE must be classic or quorum")
        if self.max_length < 0:
            raise ValueError("WONDERLAND_COMMAND_QUEUE_MAX_LENGTH must be 0 or more")


class Failure(Exception):
    """An error reply, {code, message, retryable, fields?} (docs/messages.md, "Errors are
    values")."""

    RETRYABLE = {"unavailable", "deadline_exceeded", "aborted", "resource_exhausted"}

    def __init__(self, code, message, fields=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields

    @property
    def retryable(self):
        return self.code in self.RETRYABLE

    def to_json(self):
        value = {"code": self.code, "message": self.message, "retryable": self.retryable}
        if self.fields:
            value["fields"] = self.fields
        return value


class Malformed(Exception):
    """Not a valid envelope: dead-lettered, never handled."""


def now_iso():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


def nesting_depth(value):
    """The depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_envelope(body):
    if len(body) > MAX_MESSAGE_BYTES:
        raise Malformed("envelope: %d bytes exceed the limit of %d"
                        % (len(body), MAX_MESSAGE_BYTES))
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise Malformed("body is not valid JSON: %s" % e) from None
    except RecursionError:
        raise Malformed("envelope: nesting depth exceeds the limit of %d" % MAX_DEPTH) from None
    if nesting_depth(envelope) > MAX_DEPTH:
        raise Malformed("envelope: nesting depth exceeds the limit of %d" % MAX_DEPTH)
    if not isinstance(envelope, dict):
        raise Malformed("envelope must be a JSON object")
    for name in ("message_id", "type"):
        if envelope.get(name) is None:
            raise Malformed("envelope field '%s' is missing" % name)
    for name in ("message_id", "type", "correlation_id", "causation_id", "source", "timestamp",
                 "traceparent", "idempotency_key"):
        if envelope.get(name) is not None and not isinstance(envelope[name], str):
            raise Malformed("envelope field '%s' must be a string" % name)
    if envelope.get("body") is None:
        envelope["body"] = {}
    return envelope


def text_field(body, name, errors, required=True, max_len=200):
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        errors.append({"field": name, "message": "must be a text of 1 to %d characters" % max_len})
        return None
    return value.strip()


def int_field(body, name, errors, low, high):
    value = body.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.append({"field": name, "message": "must be an integer from %d to %d" % (low, high)})
        return 0
    return value


def check(errors):
    if errors:
        raise Failure("invalid_argument", "the input is invalid", errors)


class Labels:
    """The service's state and its commands, on SQLite."""

    def __init__(self, path):
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=5)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS labels (
              id TEXT PRIMARY KEY, recipient TEXT NOT NULL, text TEXT NOT NULL,
              status TEXT NOT NULL, pickup_id TEXT);
            CREATE TABLE IF NOT EXISTS idempotency (
              key TEXT PRIMARY KEY, reply TEXT, error TEXT);
            CREATE TABLE IF NOT EXISTS injected_failures (
              key TEXT PRIMARY KEY, count INTEGER NOT NULL);
            """
        )

    def handle(self, envelope):
        handlers = {
            "labels.print": self.print_label,
            "labels.void": self.void,
            "labels.book_pickup": self.book_pickup,
        }
        kind = envelope["type"]
        body = envelope["body"]
        if not isinstance(body, dict):
            raise Failure("invalid_argument", "body must be a JSON object")
        if kind == "labels.get":
            return self.get(body)
        if kind not in handlers:
            raise Failure("invalid_argument", "unknown command type '%s'" % kind)
        key = envelope.get("idempotency_key") or ""
        if not key:
            raise Failure("invalid_argument", "%s needs an idempotency_key" % kind)
        return self.deduplicated(key, lambda: handlers[kind](key, body))

    def deduplicated(self, key, effect):
        """docs/messages.md, "Idempotency": the key, the effect and the reply in one
        transaction; final errors are recorded, retryable ones are not."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute(
                "SELECT reply, error FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                self.db.execute("COMMIT")
                if row[1] is not None:
                    error = json.loads(row[1])
                    raise Failure(error["code"], error["message"], error.get("fields"))
                return json.loads(row[0])
            try:
                reply = effect()
            except Failure as failure:
                if failure.retryable:
                    raise
                self.db.execute(
                    "INSERT INTO idempotency (key, error) VALUES (?, ?)",
                    (key, json.dumps(failure.to_json())),
                )
                self.db.execute("COMMIT")
                raise
            self.db.execute(
                "INSERT INTO idempotency (key, reply) VALUES (?, ?)", (key, json.dumps(reply))
            )
            self.db.execute("COMMIT")
            return reply
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def print_label(self, key, body):
        errors = []
        recipient = text_field(body, "recipient", errors)
        address = text_field(body, "address", errors, max_len=500)
        fail_first = int_field(body, "fail_first", errors, 0, 10)
        delay_ms = int_field(body, "delay_ms", errors, 0, MAX_DELAY_MS)
        check(errors)
        if delay_ms:  # a slow printer: time to crash mid-command
            logging.getLogger(SERVICE).info("printing slowly: %d ms for %s", delay_ms, key)
            time.sleep(delay_ms / 1000.0)
        failed = self.db.execute(
            "SELECT count FROM injected_failures WHERE key = ?", (key,)
        ).fetchone()
        failed = failed[0] if failed else 0
        if failed < fail_first:
            # An injected transient fault: committed on its own, so that the retry sees it.
            self.db.execute(
                "INSERT INTO injected_failures (key, count) VALUES (?, 1) "
                "ON CONFLICT (key) DO UPDATE SET count = count + 1",
                (key,),
            )
            self.db.execute("COMMIT")
            raise Failure(
                "unavailable",
                "the label printer is busy (injected failure %d of %d)" % (failed + 1, fail_first),
            )
        label_id = "L-" + uuid.uuid4().hex[:12]
        text = "TO: %s\n%s" % (recipient.upper(), address)
        self.db.execute(
            "INSERT INTO labels (id, recipient, text, status) VALUES (?, ?, ?, 'printed')",
            (label_id, recipient, text),
        )
        return {"label_id": label_id, "text": text, "attempts": failed + 1, "printed_by": "python"}

    def find(self, label_id):
        row = self.db.execute(
            "SELECT id, recipient, text, status, pickup_id FROM labels WHERE id = ?", (label_id,)
        ).fetchone()
        if row is None:
            raise Failure("not_found", "no label '%s'" % label_id)
        return dict(zip(("label_id", "recipient", "text", "status", "pickup_id"), row))

    def void(self, key, body):
        errors = []
        label_id = text_field(body, "label_id", errors)
        check(errors)
        self.find(label_id)
        self.db.execute("UPDATE labels SET status = 'voided' WHERE id = ?", (label_id,))
        return {"label_id": label_id, "status": "voided"}

    def book_pickup(self, key, body):
        errors = []
        label_id = text_field(body, "label_id", errors)
        carrier = text_field(body, "carrier", errors)
        check(errors)
        label = self.find(label_id)
        if label["status"] != "printed":
            raise Failure("failed_precondition", "label '%s' is %s" % (label_id, label["status"]))
        if carrier not in CARRIERS:
            raise Failure(
                "failed_precondition",
                "carrier '%s' does not collect here (%s do)" % (carrier, " and ".join(CARRIERS)),
            )
        pickup_id = "P-" + uuid.uuid4().hex[:12]
        self.db.execute(
            "UPDATE labels SET status = 'booked', pickup_id = ? WHERE id = ?", (pickup_id, label_id)
        )
        return {"pickup_id": pickup_id, "carrier": carrier}

    def get(self, body):
        errors = []
        label_id = text_field(body, "label_id", errors)
        check(errors)
        return self.find(label_id)


class Worker:
    def __init__(self, config):
        self.config = config
        self.labels = Labels(config.db_path)
        self.stopping = False
        self.backoff = 0.1  # between connection attempts, doubling up to 5 s
        self.connection = None
        self.channel = None
        self.log_channel = None
        self.log = logging.getLogger(SERVICE)

    # -- logs: stderr, and log records on wonderland.logs (docs/messages.md, "Log records") ---

    def emit(self, severity, message, correlation_id="", **fields):
        level = {"debug": logging.DEBUG, "warning": logging.WARNING, "error": logging.ERROR}
        line = message + (" [%s]" % correlation_id if correlation_id else "")
        line += "".join(" %s=%s" % kv for kv in fields.items())
        self.log.log(level.get(severity, logging.INFO), "%s", line)
        if self.log_channel is None or not self.log.isEnabledFor(level.get(severity, logging.INFO)):
            return
        record = {
            "timestamp": now_iso(),
            "service": SERVICE,
            "severity": severity,
            "correlation_id": correlation_id,
            "message": message,
            "fields": fields,
        }
        envelope = self.envelope("log.record", record, correlation_id=correlation_id)
        try:
            self.log_channel.basic_publish(
                LOGS_EXCHANGE, severity, json.dumps(envelope), self.properties(envelope, 1)
            )
        except pika.exceptions.AMQPError:
            pass  # logs are best effort; stderr has it

    # -- messages ----------------------------------------------------------------------------

    @staticmethod
    def envelope(kind, body, cause=None, correlation_id="", error=None):
        """A new envelope; a reply keeps its request's correlation id and trace."""
        cause = cause or {}
        return {
            "message_id": str(uuid.uuid4()),
            "type": kind,
            "correlation_id": cause.get("correlation_id") or correlation_id,
            "causation_id": cause.get("message_id", ""),
            "source": SERVICE,
            "timestamp": now_iso(),
            "traceparent": cause.get("traceparent") or "",
            "idempotency_key": "",
            "body": body,
            "error": error,
        }

    @staticmethod
    def properties(envelope, delivery_mode, correlation_id=None):
        return pika.BasicProperties(
            content_type="application/json",
            delivery_mode=delivery_mode,
            message_id=envelope["message_id"],
            type=envelope["type"],
            app_id=SERVICE,
            correlation_id=correlation_id,
        )

    def declare(self):
        ch = self.channel
        queue_type = {"x-queue-type": "quorum"} if self.config.queue_type == "quorum" else {}
        ch.exchange_declare(DEAD_LETTER_EXCHANGE, "direct", durable=True)
        ch.exchange_declare(LOGS_EXCHANGE, "direct", durable=True)
        args = dict(queue_type)
        if self.config.max_length > 0:
            args.update({"x-max-length": self.config.max_length, "x-overflow": "reject-publish"})
        ch.queue_declare(self.config.queue, durable=True, arguments=args)
        dead = self.config.queue + ".dead"
        ch.queue_declare(dead, durable=True, arguments=queue_type)
        ch.queue_bind(dead, DEAD_LETTER_EXCHANGE, routing_key=self.config.queue)
        ch.basic_qos(prefetch_count=1)

    def move(self, method, props, body, attempt, reason=None):
        """Publishes the message again, to its queue (a retry) or as a dead letter (with a
        reason), and acknowledges it once the broker confirmed the copy."""
        headers = dict(props.headers or {})
        headers[ATTEMPT_HEADER] = attempt
        copy = pika.BasicProperties(
            content_type=props.content_type, delivery_mode=props.delivery_mode,
            message_id=props.message_id, type=props.type, app_id=props.app_id,
            reply_to=props.reply_to, correlation_id=props.correlation_id,
            expiration=None if reason else props.expiration, headers=headers)
        if reason:
            headers["x-wonderland-reason"] = reason
            headers["x-wonderland-queue"] = self.config.queue
            self.emit("error", "dead-lettered message %s from queue '%s' after %d attempt(s): %s"
                      % (props.message_id or "(no id)", self.config.queue, attempt, reason))
            self.channel.basic_publish(DEAD_LETTER_EXCHANGE, self.config.queue, body, copy)
        else:
            self.channel.basic_publish("", self.config.queue, body, copy)
        self.channel.basic_ack(method.delivery_tag)

    def on_message(self, channel, method, props, body):
        attempt = (props.headers or {}).get(ATTEMPT_HEADER, 1)
        attempt = attempt if isinstance(attempt, int) and attempt >= 1 else 1
        if method.redelivered:
            # Its last consumer died holding it: that counts as an attempt, recorded on the
            # message itself so that a message that kills its worker every time ends as a dead
            # letter instead of circling forever.
            attempt += 1
            reason = None
            if attempt > MAX_ATTEMPTS:
                reason = "redelivered after %d attempt(s) without acknowledgement" % (attempt - 1)
            self.emit("warning", "message %s redelivered; attempt %d" % (props.message_id, attempt))
            return self.move(method, props, body, attempt, reason)
        try:
            request = parse_envelope(body)
        except Malformed as e:
            return self.move(method, props, body, attempt, "malformed message: %s" % e)
        reply_body, error = {}, None
        try:
            reply_body = self.labels.handle(request)
        except Failure as failure:
            error = failure.to_json()
        except sqlite3.OperationalError as e:  # the database is busy: try again later
            error = Failure("unavailable", "labels database: %s" % e).to_json()
        except Exception as e:  # a bug: a final internal error, like any other service's
            error = Failure("internal", "%s: %s" % (type(e).__name__, e)).to_json()
        cid = request.get("correlation_id") or ""
        if error:
            self.emit("warning" if error["retryable"] else "info",
                      "%s failed: %s: %s" % (request["type"], error["code"], error["message"]),
                      cid, attempt=attempt)
        else:
            self.emit("info", "%s done" % request["type"], cid, attempt=attempt)
        if props.reply_to:
            reply = self.envelope(request["type"] + ".reply", reply_body, cause=request,
                                  error=error)
            channel.basic_publish("", props.reply_to, json.dumps(reply),
                                  self.properties(reply, 1, props.correlation_id))
        else:
            self.emit("warning", "request %s has no reply_to; the reply is dropped"
                      % request["message_id"], cid)
        channel.basic_ack(method.delivery_tag)  # after the reply was handed to the broker

    # -- life cycle --------------------------------------------------------------------------

    def stop(self, signum, _frame):
        self.log.info("signal %d: stopping after the current message", signum)
        self.stopping = True

    def serve_once(self):
        nodes = []  # a comma-separated list names the nodes of a cluster: tried in turn
        for url in self.config.amqp_url.split(","):
            params = pika.URLParameters(url.strip())
            params.heartbeat = 10
            params.client_properties = {"connection_name": SERVICE}
            nodes.append(params)
        self.connection = pika.BlockingConnection(nodes)
        try:
            self.channel = self.connection.channel()
            self.channel.confirm_delivery()  # replies and dead letters: confirmed by the broker
            self.declare()
            self.log_channel = self.connection.channel()
            self.channel.basic_consume(self.config.queue, self.on_message)
            self.backoff = 0.1
            self.emit("info", "serving queue '%s'" % self.config.queue)
            while not self.stopping:
                self.connection.process_data_events(time_limit=0.25)
            # Unacknowledged messages go back to the queue when the connection closes.
            self.channel.stop_consuming()
        finally:
            self.log_channel = None
            if self.connection.is_open:
                self.connection.close()

    def run(self):
        while not self.stopping:
            try:
                self.serve_once()
            except pika.exceptions.AMQPError as e:
                if self.stopping:
                    break
                self.log.warning("no broker connection (%r); trying again in %.1f s", e,
                                 self.backoff)
                time.sleep(self.backoff)
                self.backoff = min(self.backoff * 2, 5.0)
        self.log.info("stopped")


def main():
    try:
        config = Config(os.environ)
    except ValueError as e:
        print("labels: %s" % e, file=sys.stderr)
        return 2
    logging.getLogger("pika").setLevel(logging.WARNING)  # its connection chatter
    logging.basicConfig(
        level=getattr(logging, config.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s labels: %(message)s",
        stream=sys.stderr,
    )
    worker = Worker(config)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

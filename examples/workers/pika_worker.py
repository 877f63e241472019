#!/usr/bin/python3
"""A consumer script in Python (Debian: apt install python3-pika): reads IN, adds an X-Python-Worker
header edit (the reference's section 4 `headers` property, applied by delivery) and forwards to OUT.

The rules any worker must follow (README, "Consumer scripts"):
  - declare queues with the arguments mtaq uses (durable; plus x-queue-type/x-queue-mode/
    x-max-priority when rabbitmq-quorum/-lazy/-maxpriority are set), or the broker refuses;
  - honour content-encoding: gzip on input;
  - publish persistent (delivery_mode 2) with publisher confirms;
  - acknowledge the input only after the forward was confirmed: at-least-once.

    IN=b OUT=c MTAQ_URL=amqp://guest:guest@localhost/ /usr/bin/python3 examples/workers/pika_worker.py
"""

import gzip
import json
import os
import signal

import pika

IN = os.environ.get("IN", "inbox")
OUT = os.environ.get("OUT", "outbox")
URL = os.environ.get("MTAQ_URL", "amqp://guest:guest@localhost/")

connection = pika.BlockingConnection(pika.URLParameters(URL))
channel = connection.channel()
channel.confirm_delivery()  # basic_publish now raises unless the broker confirmed
for queue in (IN, OUT):
    channel.queue_declare(queue=queue, durable=True)
channel.basic_qos(prefetch_count=20)


def handle(ch, method, properties, body):
    if (properties.content_encoding or "").lower() in ("gzip", "x-gzip"):
        body = gzip.decompress(body)
    message = json.loads(body)
    headers = message.get("headers") or {}
    append = dict(headers.get("append") or {})
    append["X-Python-Worker"] = "pika"
    headers["append"] = append
    message["headers"] = headers
    ch.basic_publish(
        exchange="",
        routing_key=OUT,
        body=json.dumps(message).encode(),
        properties=pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2,
            message_id=message.get("message-id") or properties.message_id,
        ),
        mandatory=True,
    )
    ch.basic_ack(delivery_tag=method.delivery_tag)  # only after the confirm


def stop(*_):
    channel.stop_consuming()  # the message in hand is finished first


signal.signal(signal.SIGTERM, stop)
channel.basic_consume(queue=IN, on_message_callback=handle)
print(json.dumps({"msg": "consuming", "input": IN, "output": OUT}), flush=True)
channel.start_consuming()
connection.close()

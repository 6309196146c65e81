#!/bin/bash
# Healthy when the node has finished booting: RabbitMQ opens its AMQP listener only then.
exec 3<>/dev/tcp/127.0.0.1/5672

#!/usr/bin/env python3
"""Writes the Lambda test events under events/ from two small corpus images.

Each event carries the same multipart body (concert.jpg + with-alpha.png, base64 as API Gateway
sends binary bodies) in one of the three shapes pixgate is invoked with: API Gateway REST (v1,
stage in the path), HTTP API (v2) and a Lambda Function URL. Also a REST preflight event.
Usage: scripts/make-events.py [CORPUS_IMAGES_DIR]   (default ../shared/corpus/images)
"""
import base64
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
images = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared/corpus/images"
boundary = "----pixgateLambdaEventBoundary"
files = [("concert.jpg", "image/jpeg"), ("with-alpha.png", "image/png")]

body = b""
for name, ctype in files:
    body += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
    body += (images / name).read_bytes() + b"\r\n"
body += f"--{boundary}--\r\n".encode()
body64 = base64.b64encode(body).decode()
content_type = f"multipart/form-data; boundary={boundary}"
origin = "https://chat.example.com"
time = "22/Nov/2026:03:00:00 +0000"

rest = {
    "resource": "/upload",
    "path": "/upload",
    "httpMethod": "POST",
    "headers": {"content-type": content_type, "host": "abc123.execute-api.eu-west-1.amazonaws.com", "origin": origin},
    "multiValueHeaders": {"content-type": [content_type], "host": ["abc123.execute-api.eu-west-1.amazonaws.com"], "origin": [origin]},
    "queryStringParameters": {"type": "profile"},
    "multiValueQueryStringParameters": {"type": ["profile"]},
    "pathParameters": None,
    "stageVariables": None,
    "requestContext": {
        "accountId": "123456789012", "apiId": "abc123", "resourceId": "r1", "resourcePath": "/upload",
        "httpMethod": "POST", "path": "/prod/upload", "stage": "prod", "protocol": "HTTP/1.1",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "requestTime": time, "requestTimeEpoch": 1795230000000,
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "okhttp/4.12.0"},
    },
    "body": body64,
    "isBase64Encoded": True,
}

def v2(domain, api_id):
    return {
        "version": "2.0",
        "routeKey": "POST /upload" if api_id != "function-url" else "$default",
        "rawPath": "/upload",
        "rawQueryString": "type=profile",
        "headers": {"content-type": content_type, "host": domain, "origin": origin},
        "queryStringParameters": {"type": "profile"},
        "requestContext": {
            "accountId": "123456789012", "apiId": api_id, "domainName": domain, "domainPrefix": domain.split(".")[0],
            "http": {"method": "POST", "path": "/upload", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "okhttp/4.12.0"},
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "routeKey": "POST /upload", "stage": "$default",
            "time": time, "timeEpoch": 1795230000000,
        },
        "body": body64,
        "isBase64Encoded": True,
    }

preflight = json.loads(json.dumps(rest))
preflight.update({"httpMethod": "OPTIONS", "body": None, "isBase64Encoded": False})
preflight["requestContext"]["httpMethod"] = "OPTIONS"
for h in ("headers", "multiValueHeaders"):
    preflight[h].pop("content-type")
preflight["headers"]["access-control-request-method"] = "POST"
preflight["multiValueHeaders"]["access-control-request-method"] = ["POST"]

events = {
    "apigw-rest-upload.json": rest,
    "apigw-http-upload.json": v2("abc123.execute-api.eu-west-1.amazonaws.com", "abc123"),
    "function-url-upload.json": v2("abc123xyz.lambda-url.eu-west-1.on.aws", "function-url"),
    "apigw-rest-preflight.json": preflight,
}
(root / "events").mkdir(exist_ok=True)
for name, event in events.items():
    (root / "events" / name).write_text(json.dumps(event, indent=2) + "\n")
    print("wrote events/" + name)

// CloudFront Function (runtime cloudfront-js-2.0, viewer request) for /upload and /direct/*.
// The origin request policy sends the API's own domain as Host (API Gateway routes on it), so
// the host the client used is passed on as x-forwarded-host: pixgate builds fileUrl from it
// (PIXGATE_TRUST_FORWARDED_HOST). Any x-forwarded-host the client sent is overwritten, never
// trusted. The viewer's Host is always one of this distribution's domains.
function handler(event) {
    var request = event.request;
    var host = request.headers.host;
    if (host && host.value) {
        request.headers['x-forwarded-host'] = { value: host.value };
    } else {
        delete request.headers['x-forwarded-host'];
    }
    return request;
}

#!/usr/bin/env python3
"""WooCommerce's OAuth 1.0a check, written out independently of wooqueue's signer, for the tests.

A port of WC_REST_Authentication::check_oauth_signature (WooCommerce's includes/class-wc-rest-authentication.php)
for HMAC-SHA256: the request's query parameters as PHP's $_GET decodes them, oauth_signature set aside, keys sorted
with strcmp, every key and value rawurlencode'd (normalize_parameters), each pair joined with "=" and that pair
rawurlencode'd again (join_with_equals_sign), the pairs joined with "%26", and
"METHOD&rawurlencode(url)&pairs" signed with HMAC-SHA256 keyed by "<consumer secret>&", base64.

    woocommerce_oauth_check.py METHOD URL_WITH_QUERY CONSUMER_KEY CONSUMER_SECRET

Exits 0 when the signature is valid, 1 (and says why) when it is not.
"""
import base64
import hashlib
import hmac
import sys
import time
import urllib.parse


def rawurlencode(text):
    """PHP's rawurlencode (RFC 3986): everything but A-Z a-z 0-9 - . _ ~ as %XX."""
    return urllib.parse.quote(text, safe="-._~")


def main():
    method, url, consumer_key, consumer_secret = sys.argv[1:5]
    parts = urllib.parse.urlsplit(url)
    # PHP's $_GET: "+" is a space, %XX decoded; a repeated key keeps its last value.
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    for name in ("oauth_consumer_key", "oauth_signature", "oauth_signature_method", "oauth_timestamp", "oauth_nonce"):
        if name not in params:
            sys.exit(f"missing {name}")
    if params["oauth_consumer_key"] != consumer_key:
        sys.exit("unknown consumer key")
    if params["oauth_signature_method"] != "HMAC-SHA256":
        sys.exit(f"signature method {params['oauth_signature_method']} is not HMAC-SHA256")
    if abs(int(params["oauth_timestamp"]) - time.time()) > 15 * 60:
        sys.exit("timestamp too far from now")
    consumer_signature = params.pop("oauth_signature").replace(" ", "+")
    pairs = []
    for key in sorted(params, key=lambda name: name.encode()):  # uksort($params, 'strcmp')
        pairs.append(rawurlencode(rawurlencode(key) + "=" + rawurlencode(params[key])))
    base_uri = rawurlencode(f"{parts.scheme}://{parts.netloc}{parts.path}")
    string_to_sign = f"{method.upper()}&{base_uri}&{'%26'.join(pairs)}"
    mac = hmac.new(f"{consumer_secret}&".encode(), string_to_sign.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(mac).decode(), consumer_signature):
        sys.exit(f"invalid signature; the string to sign was {string_to_sign}")


if __name__ == "__main__":
    main()

"""The WeChat Official Account and WeCom (企业微信) callback protocols and their HTTP API, as the
platforms document them publicly: `protocol` (signatures, the AES message envelope, the XML
messages) and `api` (the access token and the customer-service send call). No network at
import; no domain code (what a message becomes is the service's)."""

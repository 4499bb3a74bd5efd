"""Channel adapters against the providers' documented examples and signature test vectors."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from callcenter.core.omni.conversations import Delivery, MessagingChannel
from callcenter.core.omni.customers import IdentityKind
from callcenter.messaging.channels import twilio, wechat, whatsapp
from callcenter.messaging.channels.base import (
    InboundMessage,
    Reply,
    SignatureError,
    StatusUpdate,
    WebhookError,
)
from tests.channel_data import http, load, raw

TW = load("twilio/signature_vectors.json")["vectors"]
WA = load("whatsapp/signature_vectors.json")["vectors"]
WC = load("wechat/signature_vectors.json")["vectors"]


# --- Twilio --------------------------------------------------------------------------------------
@pytest.mark.parametrize("vector", TW, ids=lambda v: v["name"])
def test_twilio_signature_vectors(vector: dict) -> None:
    params = list(vector["params"].items())
    if "raw_form_body" in vector:
        params = parse_qsl(vector["raw_form_body"], keep_blank_values=True)
    assert twilio.signature(vector["url"], params, vector["auth_token"]) == vector["expected_header"]
    twilio.verify(vector["url"], params, vector["expected_header"], vector["auth_token"])
    for bad in vector.get("negative_cases", {}).values():
        with pytest.raises(SignatureError):
            twilio.verify(vector["url"], params, bad, vector["auth_token"])


def test_twilio_accepts_the_url_with_or_without_default_port() -> None:
    v = TW[1]
    params = parse_qsl(v["raw_form_body"])
    twilio.verify(
        "https://cc.example.com:443/webhooks/twilio/sms", params, v["expected_header"], v["auth_token"]
    )
    with pytest.raises(SignatureError):
        twilio.verify(v["url"], params, None, v["auth_token"])
    with pytest.raises(SignatureError):
        twilio.verify(v["url"], [*params, ("Extra", "1")], v["expected_header"], v["auth_token"])


def test_twilio_inbound_sms_and_mms() -> None:
    sms = twilio.parse(http("twilio/inbound_sms.http").form, 10.0)
    assert isinstance(sms, InboundMessage)
    assert sms.provider_id == "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0"
    assert sms.sender.kind == IdentityKind.PHONE and sms.sender.value == "+14155550111"
    assert sms.body == "Hi, where is my order #4521? Thanks & regards" and sms.media == ()
    mms = twilio.parse(http("twilio/inbound_mms.http").form, 10.0)
    assert isinstance(mms, InboundMessage) and mms.media[0].mime_type == "image/jpeg"
    assert mms.media[0].ref.startswith("https://api.twilio.com/")


def test_twilio_status_callbacks() -> None:
    ok = twilio.parse(http("twilio/status_callback_delivered.http").form, 1.0)
    assert ok == StatusUpdate(
        MessagingChannel.SMS, "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Delivery.DELIVERED, 1.0
    )
    bad = twilio.parse(http("twilio/status_callback_undelivered.http").form, 1.0)
    assert isinstance(bad, StatusUpdate) and bad.status == Delivery.FAILED and "30003" in bad.detail


@pytest.mark.parametrize(
    "form",
    [
        [],
        [("MessageSid", "SM1"), ("From", "+14155550111")],
        [("MessageSid", "SM1; drop"), ("From", "+14155550111"), ("To", "x")],
        [("MessageSid", "SM1"), ("From", "garbage"), ("To", "x")],
        [("MessageSid", "SM1"), ("From", "+14155550111"), ("To", "x"), ("NumMedia", "2")],
        [("MessageSid", "SM1"), ("MessageStatus", "exploded")],
    ],
)
def test_twilio_malformed_forms(form: list[tuple[str, str]]) -> None:
    with pytest.raises(WebhookError):
        twilio.parse(form, 1.0)


def test_twilio_send_request_matches_the_documented_one() -> None:
    doc = http("twilio/send_message_request.http")
    reply = Reply("m1", MessagingChannel.SMS, "+14155550111", "Your order #4521 ships today.")
    req = twilio.send_request(
        "https://api.twilio.com",
        "AC0123456789abcdef0123456789abcdef",
        "cc_test_auth_token_0123456789abcd",
        "+14155550199",
        reply,
        "https://cc.example.com/webhooks/twilio/status?tenant=acme",
    )
    assert req.method == doc.method and req.url == "https://api.twilio.com" + doc.path
    assert req.headers["Authorization"] == doc.headers["Authorization"]
    assert req.body == doc.body
    assert twilio.sent_id(load("twilio/send_message_response_201.json")).startswith("SM")


# --- WhatsApp ------------------------------------------------------------------------------------
@pytest.mark.parametrize("vector", WA, ids=lambda v: v["name"])
def test_whatsapp_signature_vectors(vector: dict) -> None:
    body = vector["raw_body"].encode()
    assert whatsapp.signature(body, vector["app_secret"]) == vector["expected_header"]
    whatsapp.verify(body, vector["expected_header"], vector["app_secret"])
    for bad in vector.get("negative_cases", {}).values():
        with pytest.raises(SignatureError):
            whatsapp.verify(body, bad, vector["app_secret"])


def test_whatsapp_signed_example_verifies_over_the_raw_bytes() -> None:
    doc = http("whatsapp/signed_post_example.http")
    whatsapp.verify(doc.body, doc.headers["X-Hub-Signature-256"], "cc_test_app_secret_4f1d9a")
    reserialised = json.dumps(json.loads(doc.body), separators=(",", ":"), ensure_ascii=False).encode()
    with pytest.raises(SignatureError):
        whatsapp.verify(reserialised, doc.headers["X-Hub-Signature-256"], "cc_test_app_secret_4f1d9a")
    [message] = whatsapp.parse(doc.body)
    assert isinstance(message, InboundMessage) and message.body.startswith("\u00bfViene")


def test_whatsapp_handshake() -> None:
    q = http("whatsapp/verify_get.http").query
    assert whatsapp.handshake(
        q["hub.mode"], q["hub.verify_token"], q["hub.challenge"], "cc-verify-token-123"
    ) == ("1158201444")
    with pytest.raises(SignatureError):
        whatsapp.handshake(q["hub.mode"], "wrong", q["hub.challenge"], "cc-verify-token-123")
    with pytest.raises(SignatureError):
        whatsapp.handshake("unsubscribe", q["hub.verify_token"], q["hub.challenge"], "cc-verify-token-123")


def test_whatsapp_text_image_and_statuses() -> None:
    [text] = whatsapp.parse(raw("whatsapp/inbound_text.json"))
    assert isinstance(text, InboundMessage)
    assert (text.sender.value, text.name, text.body, text.at) == (
        "16505551234",
        "Sheena Nelson",
        "Does it come in another color?",
        1749416383.0,
    )
    assert text.recipient == "106540352242922"
    [image] = whatsapp.parse(raw("whatsapp/inbound_image.json"))
    assert isinstance(image, InboundMessage)
    assert image.media[0].ref == "1003383421387256" and image.media[0].caption == "Taj Mahal"
    seen = [
        whatsapp.parse(raw(f"whatsapp/status_{s}.json"))[0] for s in ("sent", "delivered", "read", "failed")
    ]
    assert [s.status for s in seen if isinstance(s, StatusUpdate)] == [
        Delivery.SENT,
        Delivery.DELIVERED,
        Delivery.READ,
        Delivery.FAILED,
    ]
    assert isinstance(seen[3], StatusUpdate) and "131047" in seen[3].detail


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"object":"page"}',
        b'{"object":"whatsapp_business_account","entry":{}}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":[{"from":"x"}]}}]}]}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":[1]}}]}]}',
    ],
)
def test_whatsapp_malformed(body: bytes) -> None:
    with pytest.raises(WebhookError):
        whatsapp.parse(body)


def test_whatsapp_send_request() -> None:
    doc = http("whatsapp/send_text_request.http")
    reply = Reply(
        "m1", MessagingChannel.WHATSAPP, "16505551234", "Hi Sheena, yes: it also comes in blue and green."
    )
    req = whatsapp.send_request("https://graph.facebook.com", "v23.0", "106540352242922", "TOKEN", reply)
    assert (
        req.url == "https://graph.facebook.com" + doc.path and req.headers["Authorization"] == "Bearer TOKEN"
    )
    assert json.loads(req.body) == json.loads(doc.body)
    threaded = Reply(
        **{
            **reply.to_json(),
            "channel": MessagingChannel.WHATSAPP,  # type: ignore[arg-type]
            "reply_to": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        }
    )
    req = whatsapp.send_request("https://graph.facebook.com", "v23.0", "106540352242922", "TOKEN", threaded)
    assert json.loads(req.body) == load("whatsapp/send_text_reply_request.json")
    assert whatsapp.sent_id(load("whatsapp/send_text_response.json")).startswith("wamid.")


# --- WeChat --------------------------------------------------------------------------------------
@pytest.mark.parametrize("vector", WC, ids=lambda v: v["name"])
def test_wechat_signature_vectors(vector: dict) -> None:
    assert (
        wechat.signature(vector["token"], vector["timestamp"], vector["nonce"])
        == vector["expected_signature"]
    )


def test_wechat_signed_requests() -> None:
    get = http("wechat/verify_get.http")
    wechat.verify(get.query, "cc_wechat_token_2024")
    assert get.query["echostr"] == "5837397749185372411"
    post = http("wechat/signed_post_example.http")
    wechat.verify(post.query, "cc_wechat_token_2024")
    with pytest.raises(SignatureError):
        wechat.verify(post.query, "other-token")
    with pytest.raises(SignatureError):
        wechat.verify({"signature": "x"}, "cc_wechat_token_2024")
    message = wechat.parse(post.body)
    assert message is not None and message.body == "你好，我的订单还没到"  # noqa: RUF001
    assert message.provider_id == "24086087575195331" and message.sender.kind == IdentityKind.WECHAT


def test_wechat_safe_mode_official_vector() -> None:
    """Tencent's own encrypted push: its msg_signature and its message, with our code."""
    v = load("wechat/safe_mode_vector.json")
    assert wechat.signature(v["token"], v["timestamp"], v["nonce"], v["encrypt"]) == v["msg_signature"]
    key = wechat.aes_key(v["encoding_aes_key"])
    message = wechat.decrypt(v["encrypt"], key, v["app_id"]).decode()
    assert all(part in message for part in v["message_contains"])
    query = {
        "timestamp": v["timestamp"],
        "nonce": v["nonce"],
        "encrypt_type": "aes",
        "msg_signature": v["msg_signature"],
    }
    body = f"<xml><ToUserName>gh_10f6c3c3ac5a</ToUserName><Encrypt><![CDATA[{v['encrypt']}]]></Encrypt></xml>"
    opened = wechat.open_safe(query, body.encode(), v["token"], key, v["app_id"])
    parsed = wechat.parse(opened)
    assert parsed is not None and parsed.provider_id == "6054768590064713728" and parsed.body == "abcdteT"
    with pytest.raises(SignatureError):  # another account's AppID
        wechat.decrypt(v["encrypt"], key, "wx0000000000000000")
    with pytest.raises(SignatureError):  # the body changed under the signature
        wechat.open_safe(query, body.replace("hyzA", "hyzB").encode(), v["token"], key, v["app_id"])
    with pytest.raises(SignatureError):  # a plaintext push where encrypted ones are expected
        wechat.open_safe(
            {k: q for k, q in query.items() if k != "encrypt_type"},
            body.encode(),
            v["token"],
            key,
            v["app_id"],
        )


def test_wechat_encrypt_round_trip_and_bad_keys() -> None:
    key = wechat.aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    for plain in (b"", b"x" * 15, "你好".encode() * 40):
        assert wechat.decrypt(wechat.encrypt(plain, key, "wxAPP"), key, "wxAPP") == plain
    other = wechat.aes_key("0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")
    with pytest.raises(WebhookError):
        wechat.decrypt(wechat.encrypt(b"<xml/>", key, "wxAPP"), other, "wxAPP")
    for bad in ("", "not base64!", "QUJD"):
        with pytest.raises(WebhookError):
            wechat.decrypt(bad, key, "wxAPP")
    for bad_key in ("short", "!" * 43):
        with pytest.raises(ValueError):
            wechat.aes_key(bad_key)


def test_wechat_pushes_must_be_fresh() -> None:
    now = 1_800_000_000.0
    wechat.check_fresh({"timestamp": str(int(now) - 299), "nonce": "42"}, now, 300)
    wechat.check_fresh({"timestamp": str(int(now) + 299), "nonce": "42"}, now, 300)
    for query in (
        {"timestamp": "978307200", "nonce": "42"},  # 2001
        {"timestamp": str(int(now) + 301), "nonce": "42"},
        {"timestamp": "nan", "nonce": "42"},
        {"timestamp": "soon", "nonce": "42"},
        {"timestamp": str(int(now)), "nonce": ""},
        {"timestamp": str(int(now)), "nonce": "x" * 65},
    ):
        with pytest.raises(SignatureError):
            wechat.check_fresh(query, now, 300)


def test_wechat_text_and_image() -> None:
    text = wechat.parse(raw("wechat/inbound_text.xml"))
    assert text is not None and (text.body, text.sender.value, text.at) == (
        "this is a test",
        "fromUser",
        1348831860.0,
    )
    image = wechat.parse(raw("wechat/inbound_image.xml"))
    assert (
        image is not None and image.media[0].ref == "media_id" and image.media[0].caption == "this is a url"
    )
    event = b"<xml><FromUserName>o1</FromUserName><MsgType>event</MsgType><Event>subscribe</Event></xml>"
    assert wechat.parse(event) is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<xml>",
        b"<root/>",
        b"<xml><MsgType>text</MsgType></xml>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><MsgType>&a;</MsgType></xml>',
        b"<xml><MsgType>text</MsgType><MsgId>1</MsgId><FromUserName>o</FromUserName><CreateTime>x</CreateTime></xml>",
        # The same entity trick in UTF-16: it slipped past a byte search for "<!DOCTYPE".
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "text">]><xml><MsgType>&a;</MsgType>'
        "<MsgId>1</MsgId><FromUserName>oABCDEFGHIJKLMNOPQRSTUVWXYZ</FromUserName><CreateTime>1</CreateTime>"
        "</xml>".encode("utf-16"),
        '<!DOCTYPE x SYSTEM "file:///etc/passwd"><xml/>'.encode("utf-16-le"),
    ],
)
def test_wechat_malformed(body: bytes) -> None:
    with pytest.raises(WebhookError):
        wechat.parse(body)


def test_wechat_send_request() -> None:
    doc = http("wechat/custom_send_text_request.http")
    req = wechat.send_request(
        "https://api.weixin.qq.com",
        "ACCESS_TOKEN",
        Reply("m", MessagingChannel.WECHAT, "OPENID", "Hello World"),
    )
    assert req.url == "https://api.weixin.qq.com" + doc.path and req.body == doc.body.strip()
    wechat.check_response(load("wechat/custom_send_response_ok.json"))
    with pytest.raises(WebhookError):
        wechat.check_response({"errcode": 45015, "errmsg": "response out of time limit"})


def test_wechat_body_in_an_encoding_expat_cannot_read_is_a_400_not_a_crash() -> None:
    """Found by the fuzzer (tests/fuzz): a UTF-16-LE body declaring its encoding raised ValueError."""
    body = '<?xml version="1.0" encoding="utf-16-le"?><xml><MsgType>text</MsgType></xml>'.encode("utf-16-le")
    with pytest.raises(WebhookError, match="not XML we can read"):
        wechat.parse(body)

"""Mobiles and ID numbers never reach the logs in full."""
import logging

from api.core.logs import MaskingFilter
from api.core.ids import mask_personal


def test_mobile_and_id_numbers_are_masked_in_text():
    text = "客户13912345678报修，身份证640402199001011234，户号0401000001"
    masked = mask_personal(text)
    assert "139****5678" in masked
    assert "640402********1234" in masked
    assert "0401000001" in masked  # an account number is not personal data to mask


def test_filter_rewrites_formatted_records(caplog):
    logger = logging.getLogger("zhidian.test")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="zhidian.test"):
        logger.info("sms to %s", "13800001111")
    assert caplog.records[-1].getMessage() == "sms to 138****1111"
    assert "13800001111" not in caplog.text

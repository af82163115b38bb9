"""Mobiles, ID numbers and house numbers never reach the logs in full."""
import logging

from api.core.logs import MaskingFilter
from api.core.ids import mask_personal


def test_mobile_and_id_numbers_are_masked_in_text():
    text = "客户13912345678报修，身份证640402199001011234，户号0401000001"
    masked = mask_personal(text)
    assert "139****5678" in masked
    assert "640402********1234" in masked
    assert "0401000001" in masked  # an account number is not personal data to mask


def test_house_room_and_group_numbers_of_addresses_are_masked_in_text():
    assert mask_personal("报修地址原州区南关街道文化街12号3号楼2单元501") == "报修地址原州区南关街道文化街**号**号楼**单元**"
    assert mask_personal("西吉县吉强镇龙王坝村三组12号停电") == "西吉县吉强镇龙王坝村**组**号停电"
    assert mask_personal("文化街1号台区 12月10号 GD20261204-0007") == "文化街1号台区 12月10号 GD20261204-0007"


def test_filter_rewrites_formatted_records(caplog):
    logger = logging.getLogger("zhidian.test")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="zhidian.test"):
        logger.info("sms to %s", "13800001111")
        logger.info("ticket for %s", "幸福小区5号楼2单元301室")
    assert caplog.records[-2].getMessage() == "sms to 138****1111"
    assert caplog.records[-1].getMessage() == "ticket for 幸福小区**号楼**单元**室"
    assert "13800001111" not in caplog.text

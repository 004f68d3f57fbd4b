"""The fields a file's column headers name without a mapping: "手机号", "Mobile Phone", "邮箱",
"公司名称" are what spreadsheets exported from other CRMs (or typed by hand) call them.

A header names the first of its candidate fields the entity has, so "公司" is a contact's
company_name, a lead's company and an account's own name. A mapping the user sent always wins;
a header nobody recognises is reported as unmapped, never guessed at."""
from __future__ import annotations

import re
from collections.abc import Collection

# candidate fields, in order of preference → the headers (folded by `fold`) that name them
_NAMED_BY: tuple[tuple[tuple[str, ...], str], ...] = (
    (("name", "requester_name"), "姓名 名字 全名 客户姓名 联系人 联系人姓名 联系人名称 客户名称 客户名 客户 名称 "
                                 "fullname contactname customername accountname leadname"),
    (("requester_name",), "提交人 请求人 报告人 requester requestername"),
    (("name",), "产品名称 商品名称 产品名 商品名 品名 productname itemname"),
    (("company_name", "company", "name"), "公司 公司名称 企业 企业名称 单位名称 工作单位 所属公司 机构 "
                                          "company companyname organization organisation"),
    (("company_name", "company", "unit"), "单位"),
    (("title", "subject"), "title"),
    (("title",), "职位 职务 头衔 岗位 jobtitle position"),
    (("mobile", "phone"), "手机 手机号 手机号码 移动电话 mobilephone cell cellphone"),
    (("phone", "mobile"), "电话 电话号码 联系电话 联系方式 telephone tel phonenumber"),
    (("work_phone", "phone"), "办公电话 座机 公司电话 固定电话 固话 workphone officephone"),
    (("email", "requester_email"), "邮箱 电子邮箱 电子邮件 邮件 邮箱地址 email emailaddress mail"),
    (("requester_email",), "提交人邮箱 请求人邮箱"),
    (("source",), "来源 客户来源 线索来源 leadsource"),
    (("industry",), "行业 所属行业 行业类别"),
    (("level",), "等级 客户等级 级别 客户级别 customerlevel"),
    (("lifecycle_stage",), "生命周期 生命周期阶段 客户阶段"),
    (("tags",), "标签 tag"),
    (("owner_id",), "负责人 所有者 归属人 销售代表 owner"),
    (("team",), "团队 销售团队"),
    (("region",), "区域 大区 片区 地区"),
    (("country",), "国家 国家地区"),
    (("province",), "省 省份 state"),
    (("city",), "城市 市 所在城市"),
    (("street",), "地址 详细地址 街道 街道地址 通讯地址 address"),
    (("postal_code",), "邮编 邮政编码 zip zipcode postcode"),
    (("language",), "语言 首选语言"),
    (("website",), "网站 网址 官网 公司网站 url homepage"),
    (("notes",), "备注 备注信息 说明 remark remarks note comment comments"),
    (("description",), "描述 问题描述 详情 详细描述 内容 正文 details"),
    (("subject",), "主题 标题 工单标题 工单主题 问题标题"),
    (("type",), "类型 工单类型 问题类型"),
    (("priority",), "优先级 紧急程度"),
    (("channel",), "渠道 来源渠道"),
    (("group",), "处理组 分组 支持组 技能组"),
    (("external_ref",), "工单号 工单编号 外部编号 参考号 ticketid ticketnumber reference externalid"),
    (("sku",), "编码 产品编码 商品编码 货号 料号 productcode itemcode code"),
    (("active",), "启用 是否启用 上架 enabled"),
    (("budget",), "预算"),
    (("company_size",), "公司规模 企业规模 规模 员工数 员工人数 employees"),
    (("currency_code",), "币种 货币 currency"),
)


def fold(header: str) -> str:
    """A header as compared: case, spacing, "_", "-", "*" (a required mark), a trailing colon and
    a bracketed hint ("手机（必填）", "Email (work)") do not matter."""
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", header)
    return re.sub(r"[\s_\-*:：]+", "", text).casefold()


_CANDIDATES: dict[str, tuple[str, ...]] = {}
for _fields, _headers in _NAMED_BY:
    for _header in _headers.split():
        _CANDIDATES.setdefault(fold(_header), _fields)


def fields_named(header: str, allowed: Collection[str]) -> tuple[str, ...]:
    """The fields `header` may name among `allowed`, best first: the field's own name in any case
    or spacing ("Company Name" → company_name), else a known header's candidates the entity has."""
    folded = fold(header)
    if not folded:
        return ()
    own = tuple(t for t in allowed if t != "ignore" and fold(t) == folded)
    return own or tuple(f for f in _CANDIDATES.get(folded, ()) if f in allowed)

"""Password complexity (GB/T 22239 §8.1.4.1 a): length, character classes, not the user name."""

import pytest

from catalog_schema.user import password_policy
from catalog_schema.validation import BilingualValueError


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("Sh0rt-pw", "至少 10 个字符"),
        ("onlylowercaseletters", "至少 3 类"),
        ("lowercase-and-dash", "至少 3 类"),
        ("Requester-2026!", "用户名"),
    ],
)
def test_a_password_breaking_a_rule_is_refused_naming_it(password: str, broken: str) -> None:
    with pytest.raises(BilingualValueError) as refused:
        password_policy.validate(password, username="requester")

    assert broken in refused.value.message and refused.value.message_en


@pytest.mark.parametrize("password", ["govdx-demo-2026", "Another-Passw0rd", "長い密码-Abc-2026"])
def test_a_password_of_three_classes_and_ten_characters_is_accepted(password: str) -> None:
    assert password_policy.is_valid(password, username="requester")


def test_the_classes_are_counted_separately() -> None:
    assert [password_policy.classes(p) for p in ("abc", "aB", "aB1", "aB1-")] == [1, 2, 3, 4]

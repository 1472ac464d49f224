"""runner.secrets.yamltext: !encrypted values found by their marks and replaced in the text, the rest of the
file kept byte for byte, in every style a value may be written in."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from runner.errors import UserError
from runner.secrets import age
from runner.secrets.yamltext import find, parse, render_block, render_flow, replace


@pytest.fixture(scope="module")
def keys() -> tuple[age.Identities, str]:
    secret, public = age.generate()
    return age.Identities((age.x25519.Identity.from_str(secret),), ("test",)), public


def block(armored: str, indent: int) -> str:
    return render_block(armored, indent)


def outside(text: str, values) -> list[str]:
    """The text between and around the values' ranges."""
    pieces, last = [], 0
    for value in values:
        pieces.append(text[last:value.start])
        last = value.end
    return [*pieces, text[last:]]


def rewrite_all(text: str, keys, plaintext: str = "after") -> tuple[str, str]:
    identities, public = keys
    parsed = parse(text, "stack.yml")
    new = replace(parsed, [(v, age.encrypt(plaintext, [public])) for v in parsed.values])
    again = parse(new, "stack.yml")
    assert [v.path for v in again.values] == [v.path for v in parsed.values]
    assert outside(new, again.values) == outside(text, parsed.values)
    assert all(age.decrypt(v.armored, identities) == plaintext for v in again.values)
    assert yaml.compose(new) is not None  # still valid YAML
    return text, new


def test_block_values_at_every_depth_keep_everything_around_them(keys):
    _, public = keys
    armored = age.encrypt("before", [public])
    text = textwrap.dedent("""\
        # the stack\t
        stack:
          name: shop   # trailing comment
          custom_json:
            api:
              token: {token}

        apps:
          web:
            environment:
              A: 'quoted'
              DB_PASSWORD: {db}
              # a comment right after the block

            files:
              - {item}
              - plain
        """).format(token=block(armored, 8), db=block(armored, 8), item=block(armored, 8))
    _, new = rewrite_all(text, keys)
    assert "# trailing comment" in new and "  # a comment right after the block\n\n" in new
    paths = [v.dotted for v in parse(new, "s").values]
    assert paths == ["stack.custom_json.api.token", "apps.web.environment.DB_PASSWORD", "apps.web.files.0"]


def test_flow_values_stay_one_line_flow_values(keys):
    _, public = keys
    armored = age.encrypt("before", [public])
    text = (f"env:\n  DB: {{value: {render_flow(armored)}, secure: true}}  # note\n"
            f"  K: {render_flow(armored)}   # stays a comment\n"
            f"  L: [{render_flow(armored)}, x]\n")
    _, new = rewrite_all(text, keys)
    lines = new.splitlines()
    assert len(lines) == 4 and lines[1].endswith(", secure: true}  # note") and lines[2].endswith("# stays a comment")


def test_block_header_comment_chomping_anchor_and_alias_are_kept(keys):
    _, public = keys
    armored = age.encrypt("before", [public])
    body = "\n".join("      " + line for line in armored.strip().splitlines())
    text = f"a:\n  x: &pw !encrypted |-   # rotated yearly\n{body}\n\n\n  y: *pw\n"
    _, new = rewrite_all(text, keys)
    assert "  x: &pw !encrypted |-   # rotated yearly\n      -----BEGIN" in new
    assert new.endswith("-----END AGE ENCRYPTED FILE-----\n\n\n  y: *pw\n")
    assert len(parse(new, "s").values) == 1  # the alias is the same value


def test_crlf_line_breaks_and_a_last_line_without_one(keys):
    _, public = keys
    armored = age.encrypt("before", [public])
    text = "k: 1\r\nv: " + render_block(armored, 2, "\r\n")
    _, new = rewrite_all(text, keys)
    assert "\n" not in new.replace("\r\n", "") and not new.endswith("\n")


def test_a_value_on_the_line_after_its_key_and_in_a_list_of_mappings(keys):
    _, public = keys
    armored = age.encrypt("before", [public])
    text = f"a:\n  key:\n    {block(armored, 6)}\nlist:\n  - name: x\n    pw: {block(armored, 6)}\n"
    rewrite_all(text, keys)


def test_find_by_dotted_path(keys):
    _, public = keys
    armored = age.encrypt("before", [public])
    text = (f"apps:\n  web:\n    environment:\n      DB: {{value: {render_flow(armored)}, secure: true}}\n"
            f"custom:\n  a.b: {render_flow(armored)}\n  list: [x, {render_flow(armored)}]\n  plain: x\n")
    parsed = parse(text, "stack.yml")
    assert find(parsed, "apps.web.environment.DB").path == ("apps", "web", "environment", "DB", "value")
    assert find(parsed, "custom.a.b").path == ("custom", "a.b")
    assert find(parsed, "custom.list.1").path == ("custom", "list", 1)
    with pytest.raises(UserError, match=r"custom\.plain: not an !encrypted value") as exc:
        find(parsed, "custom.plain")
    assert str(exc.value.location) == "stack.yml:8:10"
    with pytest.raises(UserError, match="no key 'nope' under custom"):
        find(parsed, "custom.nope")
    with pytest.raises(UserError, match="no key '5'"):
        find(parsed, "custom.list.5")


def test_the_tag_on_a_mapping_and_invalid_yaml_are_located_errors():
    with pytest.raises(UserError, match=r"a\.b: !encrypted goes on a string") as exc:
        parse("a:\n  b: !encrypted {x: 1}\n", "f.yml")
    assert "f.yml:2:6" in str(exc.value)
    with pytest.raises(UserError, match="invalid YAML") as exc:
        parse("a: [1\n", "f.yml")
    assert str(exc.value).startswith("f.yml:")
    with pytest.raises(UserError, match="expected a single document in the stream, but found another"):
        parse("a: 1\n---\nb: 2\n", "f.yml")

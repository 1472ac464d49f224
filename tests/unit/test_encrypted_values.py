"""``!encrypted`` values in stack files and cookbook attributes: loading, decrypting, errors, secure set."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runner.cli.main import main
from runner.cookbooks.resolve import load_cookbooks
from runner.cookbooks.validate import load_and_validate
from runner.errors import Location, UserError, UserErrors
from runner.model.encrypted import Encrypted
from runner.model.loader import load_stack, read_stack
from runner.model.yamlsource import parse_yaml
from runner.recipes import secret_values
from runner.secrets.age import encrypt, generate
from runner.secrets.reveal import Revealer, check_recipients, plaintext_secrets, revealed

SECRET, PUBLIC = generate()


def armored(text: str, indent: int, public: str = PUBLIC) -> str:
    """``!encrypted |`` and the block, indented for a value nested ``indent`` spaces deep."""
    return "!encrypted |\n" + textwrap.indent(encrypt(text, [public]), " " * indent).rstrip()


STACK = """\
stack:
  name: enc
  provider: docker
  cookbooks: [{{path: cookbooks}}]
  secrets:
    recipients: [{public}]
  ssh:
    user: {user}
  custom_json:
    token: {stack_token}
  databases:
    main:
      engine: postgres
      address: db.local
      username: app
      password: {db_password}
layers:
  app:
    custom_json:
      layer_secret: {layer_secret}
    recipes: {{setup: [web]}}
instances:
  app1:
    layers: [app]
    custom_json:
      nested:
        - {instance_secret}
apps:
  hello:
    layers: [app]
    source: {{type: git, url: u}}
    data_sources: [main]
    environment:
      PLAIN: visible-value
      API_KEY: {api_key}
      WRAPPED:
        value: {wrapped}
      OLD: {{value: old-plaintext-secret, secure: true}}
    custom_json:
      app_secret: {app_secret}
"""

VALUES = {
    "user": "deploy-user", "stack_token": "stack-token-0001", "db_password": "db-password-0002",
    "layer_secret": "layer-secret-0003", "instance_secret": "instance-secret-0004", "api_key": "api-key-0005",
    "wrapped": "wrapped-secret-0006", "app_secret": "app-secret-0007",
}
INDENTS = {"user": 6, "stack_token": 6, "db_password": 8, "layer_secret": 8, "instance_secret": 10,
           "api_key": 8, "wrapped": 10, "app_secret": 8}


def stack_text(**overrides: str) -> str:
    values = {key: armored(value, INDENTS[key]) for key, value in VALUES.items()}
    values.update(overrides)
    return STACK.format(public=PUBLIC, **values)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # never the real ~/.config/runner/age.key
    monkeypatch.delenv("RUNNER_AGE_KEY_FILE", raising=False)
    monkeypatch.setenv("RUNNER_AGE_KEY", SECRET)
    web = tmp_path / "cookbooks" / "web"
    (web / "recipes").mkdir(parents=True)
    (web / "attributes").mkdir()
    (web / "recipes" / "default.py").write_text("package('curl')\n")
    (web / "attributes" / "default.yml").write_text(
        f"web:\n  port: 8080\n  secret_key: {armored('cookbook-secret-0008', 4)}\n")
    (tmp_path / "stack.yml").write_text(stack_text())
    return tmp_path


def test_the_tag_loads_as_an_encrypted_value_with_its_place():
    doc = parse_yaml("a: !encrypted |\n  -----BEGIN AGE ENCRYPTED FILE-----\nb: [!encrypted 'x']\n", "f.yml")
    assert doc.data["a"] == Encrypted("-----BEGIN AGE ENCRYPTED FILE-----\n", doc.value_at("a"))
    assert str(doc.data["b"][0].location) == "f.yml:3:5"
    assert repr(doc.data["a"]) == "Encrypted(at f.yml:1:4)"


def test_the_tag_on_a_mapping_is_an_error():
    with pytest.raises(UserErrors) as info:
        parse_yaml("a: !encrypted {b: 1}\n", "f.yml")
    assert str(info.value) == ("f.yml:1:4: !encrypted needs the armored age text as a string "
                               "(write `key: !encrypted |` then the block)")


def test_every_place_gets_its_plaintext(project):
    stack = load_and_validate("stack.yml")
    assert stack.ssh.user == "deploy-user"
    assert stack.custom_json["token"] == "stack-token-0001"
    assert stack.layers["app"].custom_json["layer_secret"] == "layer-secret-0003"
    assert stack.instances["app1"].custom_json["nested"] == ["instance-secret-0004"]
    app = stack.apps["hello"]
    assert app.custom_json["app_secret"] == "app-secret-0007"
    assert stack.databases["main"].password.value == "db-password-0002"
    assert stack.databases["main"].password.encrypted
    assert stack.secrets.recipients == (PUBLIC,)
    env = app.environment
    assert (env["API_KEY"].value, env["API_KEY"].secure, env["API_KEY"].encrypted) == ("api-key-0005", True, True)
    assert (env["WRAPPED"].value, env["WRAPPED"].secure, env["WRAPPED"].encrypted) == \
        ("wrapped-secret-0006", True, True)
    assert (env["PLAIN"].secure, env["OLD"].secure, env["OLD"].encrypted) == (False, True, False)
    assert "api-key-0005" not in repr(app) and "db-password-0002" not in repr(stack.databases)


def test_every_decrypted_value_is_secure_the_attributes_too(project):
    stack = load_and_validate("stack.yml")
    assert secret_values(stack) == {*VALUES.values(), "cookbook-secret-0008", "old-plaintext-secret"}
    assert "visible-value" not in secret_values(stack)
    assert set(stack.decrypted.values()) == {*VALUES.values(), "cookbook-secret-0008"}
    assert {*VALUES.values(), "cookbook-secret-0008"} <= revealed()


def test_cookbook_attributes_are_decrypted_from_what_validation_decrypted(project, monkeypatch):
    stack = load_and_validate("stack.yml")
    monkeypatch.delenv("RUNNER_AGE_KEY")  # a later load in the same command needs no identity
    attributes = load_cookbooks(stack).get("web").attributes
    assert attributes == {"web": {"port": 8080, "secret_key": "cookbook-secret-0008"}}


def test_an_included_file_may_hold_encrypted_custom_json(project):
    Path("more.yml").write_text(f"custom_json:\n  extra: {armored('included-secret-0009', 4)}\n")
    Path("stack.yml").write_text("include: [more.yml]\n" + stack_text())
    stack = load_and_validate("stack.yml")
    assert stack.custom_json["extra"] == "included-secret-0009"
    assert "included-secret-0009" in secret_values(stack)


def errors() -> list[str]:
    with pytest.raises(UserErrors) as info:
        load_and_validate("stack.yml")
    return [str(e) for e in info.value.errors]


def place(key: str, file: str = "stack.yml") -> str:
    """``file:LINE:COL`` of the ``!encrypted`` tag of the first ``key:`` in ``file``."""
    for number, line in enumerate(Path(file).read_text().splitlines(), 1):
        if line.lstrip().startswith(f"{key}:") and "!encrypted" in line:
            return f"{file}:{number}:{line.index('!encrypted') + 1}"
    raise AssertionError(f"no {key} in {file}")


def in_stack_file(found: list[str]) -> list[str]:
    return [error for error in found if error.startswith("stack.yml:")]


def test_no_identity_names_the_place_and_what_was_tried(project, monkeypatch):
    monkeypatch.delenv("RUNNER_AGE_KEY")
    found = errors()
    assert len(found) == len(VALUES) + 1  # each value of stack.yml, and the cookbook's attribute
    first = in_stack_file(found)[0]
    assert first.startswith(f"{place('user')}: !encrypted value: no age identity to decrypt it with (tried: ")
    assert f"{project}/.config/runner/age.key (missing)" in first
    attributes = f"{project}/cookbooks/web/attributes/default.yml"
    assert found[0].startswith(f"{place('secret_key', attributes)}: !encrypted value: no age identity")


def test_a_wrong_identity(project, monkeypatch):
    other, _ = generate()
    monkeypatch.setenv("RUNNER_AGE_KEY", other)
    first = in_stack_file(errors())[0]
    assert first.startswith(f"{place('user')}: !encrypted value: cannot decrypt it (")
    assert "tried: RUNNER_AGE_KEY)" in first


def test_an_identity_file_is_named_when_it_does_not_fit(project, monkeypatch):
    other, _ = generate()
    Path("other.key").write_text(f"# created: today\n{other}\n")
    monkeypatch.delenv("RUNNER_AGE_KEY")
    monkeypatch.setenv("RUNNER_AGE_KEY_FILE", "other.key")
    assert "tried: RUNNER_AGE_KEY_FILE=other.key)" in errors()[0]


def test_a_malformed_identity_is_reported_at_the_values(project, monkeypatch):
    monkeypatch.setenv("RUNNER_AGE_KEY", "AGE-SECRET-KEY-1NOTAKEY")
    first = in_stack_file(errors())[0]
    assert first.startswith(f"{place('user')}: !encrypted value: RUNNER_AGE_KEY: not an age secret key")


def errors_for(text: str) -> list[str]:
    Path("stack.yml").write_text(text)
    return errors()


def test_corrupt_text_is_reported_at_its_place(project):
    corrupt = armored("stack-token-0001", 6).replace("\n      ", "\n      X", 2)
    (found,) = errors_for(stack_text(stack_token=corrupt))
    assert found.startswith(f"{place('token')}: !encrypted value: ")
    assert "tried" in found or "armored" in found


def test_text_that_is_not_armored(project):
    found = errors_for(stack_text(stack_token='!encrypted "hello there"'))
    assert found == [f"{place('token')}: !encrypted value: not an armored age value "
                     "(it must start with -----BEGIN AGE ENCRYPTED FILE-----) "
                     "(set RUNNER_AGE_KEY or RUNNER_AGE_KEY_FILE to an identity the value is encrypted to)"]


def test_a_value_too_short_to_hide(project):
    found = errors_for(stack_text(stack_token=armored("ab", 6)))
    assert found == [f"{place('token')}: this !encrypted value is 2 characters long; a secret needs at least 4, "
                     "or it could not be hidden in output"]


def test_a_message_that_quotes_a_decrypted_value_masks_it(project):
    text = stack_text().replace("  ssh:\n", f"  ssh:\n    port: {armored('not-a-port', 6)}\n")
    found = errors_for(text)
    assert found == [f"{place('port')}: stack.ssh.port: expected an integer, got string '********'"]


def test_without_a_reveal_the_values_stay_encrypted(project):
    draft = read_stack("stack.yml")
    assert isinstance(draft.stack.custom_json["token"], Encrypted)
    assert not draft.stack.decrypted
    assert any("expected a string, got an encrypted value" in str(e) for e in draft.errors)


def test_the_identities_are_read_only_when_a_value_needs_them(project, monkeypatch):
    monkeypatch.setenv("RUNNER_AGE_KEY", "not a key at all")
    Path("stack.yml").write_text("stack: {name: plain}\n")
    assert load_stack("stack.yml", reveal=Revealer()).name == "plain"


def test_each_armored_text_is_decrypted_once(project):
    reveal = Revealer()
    value = Encrypted(encrypt("once-only-0010", [PUBLIC]), Location("x.yml", 1, 1))
    assert reveal(value) == "once-only-0010"
    reveal._identities = None
    reveal.environ = {}  # no identity now: the second call must not need one
    assert reveal(value) == "once-only-0010"


# -- recipients ----------------------------------------------------------------


def recipients_errors(*keys: str) -> list[str]:
    Path("stack.yml").write_text(f"stack:\n  name: r\n  secrets:\n    recipients: [{', '.join(keys)}]\n")
    with pytest.raises(UserErrors) as info:
        load_and_validate("stack.yml")
    return [str(e) for e in info.value.errors]


def test_recipients_of_the_wrong_shape(project):
    assert recipients_errors(PUBLIC, "age1short", "12") == [
        "stack.yml:4:82: stack.secrets.recipients[1]: not an age public key (age1...): 'age1short' "
        "(each recipient is a public key as `runner secrets keygen` prints it)",
        "stack.yml:4:93: stack.secrets.recipients[2]: expected a string, got integer 12",
    ]


def test_a_recipient_listed_twice(project):
    assert recipients_errors(PUBLIC, PUBLIC) == ["stack.yml:4:82: stack.secrets.recipients[1]: recipient listed twice"]


def test_a_recipient_with_a_bad_checksum_is_caught_by_age(project):
    last = "q" if PUBLIC[-1] != "q" else "p"
    broken = PUBLIC[:-1] + last
    (error,) = recipients_errors(broken)
    assert error.startswith("stack.yml:4:18: stack.secrets.recipients[0]: not an age public key (age1...): ")


def test_check_recipients_accepts_good_keys(project):
    Path("stack.yml").write_text(f"stack:\n  name: r\n  secrets:\n    recipients: [{PUBLIC}, {generate()[1]}]\n")
    stack = load_and_validate("stack.yml")
    assert len(stack.secrets.recipients) == 2 and check_recipients(stack) == []


def test_secrets_takes_only_recipients(project):
    Path("stack.yml").write_text("stack:\n  name: r\n  secrets: {recipient: []}\n")
    with pytest.raises(UserErrors) as info:
        load_and_validate("stack.yml")
    assert str(info.value) == ("stack.yml:3:13: stack.secrets: unknown key 'recipient' "
                               "(did you mean 'recipients'?)")


# -- the validate warning ---------------------------------------------------------


def test_validate_warns_about_each_plaintext_secure_value(project, capsys):
    text = stack_text().replace("      username: app\n", "      username: app\n      port: 5433\n")
    text = text.replace("  databases:\n", "  databases:\n    old: {engine: mysql, address: o, username: u, "
                                          "password: plain-db-password}\n")
    Path("stack.yml").write_text(text)
    assert main(["validate", "-f", "stack.yml"]) == 0
    captured = capsys.readouterr()
    assert "ok" in captured.out
    warnings = [line for line in captured.err.splitlines() if line.startswith("runner: warning:")]
    assert [w.split(": ", 3)[3] for w in warnings] == [
        "stack.databases.old.password is a secure value in plain text; encrypt it with `runner secrets encrypt` "
        "and write it as `!encrypted |` and the block it prints",
        "apps.hello.environment.OLD is a secure value in plain text; encrypt it with `runner secrets encrypt` "
        "and write it as `!encrypted |` and the block it prints",
    ]
    old = next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith("    old:"))
    column = text.splitlines()[old - 1].index("plain-db-password") + 1
    assert warnings[0].startswith(f"runner: warning: stack.yml:{old}:{column}: ")
    for value in [*VALUES.values(), "cookbook-secret-0008"]:
        assert value not in captured.out + captured.err


def test_no_warning_when_every_secure_value_is_encrypted(project):
    Path("stack.yml").write_text(stack_text().replace("      OLD: {value: old-plaintext-secret, secure: true}\n", ""))
    assert plaintext_secrets(load_and_validate("stack.yml")) == []


def test_the_cli_hides_decrypted_values_in_an_internal_error(project, capsys, monkeypatch):
    import runner.cli.commands.validate as command

    def broken(stack):
        raise RuntimeError(f"bug holding {stack.custom_json['token']}")

    monkeypatch.setattr(command, "plaintext_secrets", broken)
    assert main(["validate", "-f", "stack.yml"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "bug holding ********" in err and "stack-token-0001" not in err


def test_the_cli_hides_decrypted_values_in_user_errors(project, capsys, monkeypatch):
    import runner.cli.commands.validate as command

    def bad(stack):
        raise UserError(f"bad {stack.apps['hello'].environment['API_KEY'].value}")

    monkeypatch.setattr(command, "plaintext_secrets", bad)
    assert main(["validate", "-f", "stack.yml"]) == 2
    assert capsys.readouterr().err == "runner: bad ********\n"


def test_attributes_decrypted_for_an_unvalidated_stack_join_its_secure_values(project):
    stack = load_stack("stack.yml", reveal=Revealer())
    assert "cookbook-secret-0008" not in secret_values(stack)
    assert load_cookbooks(stack).get("web").attributes["web"]["secret_key"] == "cookbook-secret-0008"
    assert "cookbook-secret-0008" in secret_values(stack)

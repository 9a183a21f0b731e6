"""Settings: every field documented, sizes parsed, invalid values named at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from dikte.config import ConfigError, Settings, format_size, load_settings, parse_size

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    text = DOCS.read_text()
    assert f"`{name}`" in text, f"add {name} to docs/configuration.md"
    if name not in ("images", "tiers", "usage_reset", "accelerators"):  # tables: file only
        assert f"`DIKTE_{name.upper()}`" in text
    assert Settings.model_fields[name].description, f"{name} needs help text"


@pytest.mark.parametrize(("text", "expected"), [
    ("12GiB", 12 * 2**30), ("500MB", 500 * 10**6), ("1.5 KiB", 1536), (2048, 2048), ("7", 7),
])
def test_sizes(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["12 parsecs", "-1", -5, True, "GiB"])
def test_bad_sizes(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_size(bad)


def test_format_size() -> None:
    assert format_size(12 * 2**30) == "12 GiB"
    assert format_size(1536) == "1.5 KiB"
    assert format_size(10) == "10 B"


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "dikte.toml"
    cfg.write_text('port = 9000\nruntime_memory = "1GiB"\n[images.alt]\npython = "/x/python"\n')
    s = load_settings(cfg, environ={"DIKTE_PORT": "9100"})
    assert s.port == 9100 and s.runtime_memory == 2**30 and "alt" in s.images
    assert load_settings(cfg, environ={"DIKTE_PORT": "9100"}, port=9200).port == 9200


def test_data_dir_config_file_is_found(tmp_path: Path) -> None:
    (tmp_path / "dikte.toml").write_text("output_max_lines = 77\n")
    assert load_settings(environ={"DIKTE_DATA_DIR": str(tmp_path)}).output_max_lines == 77


@pytest.mark.parametrize(("env", "key"), [
    ({"DIKTE_PORT": "abc"}, "port"), ({"DIKTE_RUNTIME_MEMORY": "lots"}, "runtime_memory"),
    ({"DIKTE_PORT": "70000"}, "port"),
])
def test_invalid_values_name_key_and_value(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert key in str(info.value) and next(iter(env.values())) in str(info.value)


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings(cfg, environ={})


def test_the_first_admin_gets_the_tier_with_the_most_sessions() -> None:
    assert Settings().first_admin_tier == "pro_plus"  # of the shipped tiers: 3 standard sessions
    assert Settings(admin_tier="pro").first_admin_tier == "pro"
    with pytest.raises(ValueError, match="admin_tier 'gold' is not one of the tiers"):
        Settings(admin_tier="gold")
    # tiers that allow as many: the default tier
    equal = {name: tier.model_copy(update={"shapes": Settings().tiers["free"].shapes})
             for name, tier in Settings().tiers.items()}
    assert Settings(tiers=equal, default_tier="pro").first_admin_tier == "pro"


def test_the_shipped_images_are_built_by_dikte_into_the_images_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert sorted(s.images) == ["colab", "minimal"] and s.default_image == ""
    for name in ("colab", "minimal"):
        image = s.images[name]
        assert image.built_by_dikte and Path(image.requirements).is_file()
        assert image.python == str(tmp_path / "images" / name / "bin" / "python")
        assert image.python_version == "3.11" and image.description
    s.images_dir = tmp_path / "elsewhere"  # derived again on a change
    assert s.images["minimal"].python == str(tmp_path / "elsewhere" / "minimal" / "bin" / "python")


@pytest.mark.parametrize(("table", "message"), [
    ('[images.x]\npython = "3.11"\nrequirements = "/r.txt"',
     "python = '3.11' is not the path of a python executable; to choose the interpreter an "
     "image is built with, write python_version = '3.11'"),
    ('[images.x]\npython = "/p/bin/python"\nrequirements = "/r.txt"',
     "give either python (an environment you bring) or requirements"),
    ("[images.x]\ndescription = 'neither'",
     "images.x needs requirements (an image Dikte builds) or python"),
    ('default_image = "nope"\n[images.x]\npython = "/p/bin/python"',
     "default_image 'nope' is not one of the images (x)"),
])
def test_image_tables_are_checked(tmp_path: Path, table: str, message: str) -> None:
    cfg = tmp_path / "dikte.toml"
    cfg.write_text(table + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    assert message in str(info.value)


def test_an_image_table_replaces_the_shipped_ones_and_an_empty_one_keeps_them(
        tmp_path: Path) -> None:
    cfg = tmp_path / "dikte.toml"
    cfg.write_text('[images.colab]\n[images.mine]\nrequirements = "/srv/mine.txt"\n'
                   'python_version = "3.12"\n')
    s = load_settings(cfg, environ={"DIKTE_IMAGES_DIR": str(tmp_path / "img")})
    assert sorted(s.images) == ["colab", "mine"]
    assert s.images["mine"].python == str(tmp_path / "img" / "mine" / "bin" / "python")
    assert s.images["mine"].python_version == "3.12"
    assert s.images["colab"].requirements.endswith("/images/colab.txt")

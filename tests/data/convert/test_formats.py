"""Small samples in each publisher's raw format, converted and checked exactly."""

from __future__ import annotations

import bz2
import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from recbole_hug.data.convert import ConversionError, convert
from recbole_hug.data.convert.atomic import read_atomic


def test_ml1m_zip_with_side_tables(tmp_path: Path) -> None:
    raw = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(raw, "w") as z:
        z.writestr("ml-1m/ratings.dat", "1::10::5::300\n1::20::3::100\n2::10::4::200\n")
        z.writestr(
            "ml-1m/movies.dat",
            "10::Am\xe9lie (2001)::Comedy|Romance\n20::Heat (1995)::Action\n".encode("latin-1"),
        )
        z.writestr("ml-1m/users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n")
    result = convert("ml-1m", raw, tmp_path, preset="raw", progress=False)
    assert read_atomic(tmp_path / "ml-1m" / "ml-1m.inter")[1] == [
        ["1", "20", "100"],
        ["1", "10", "300"],
        ["2", "10", "200"],
    ]
    header, items = read_atomic(tmp_path / "ml-1m" / "ml-1m.item")
    assert header == [
        "item_id:token",
        "movie_title:token_seq",
        "release_year:token",
        "genre:token_seq",
    ]
    assert items == [
        ["10", "Am\xe9lie", "2001", "Comedy Romance"],
        ["20", "Heat", "1995", "Action"],
    ]
    assert read_atomic(tmp_path / "ml-1m" / "ml-1m.user")[1][1] == ["2", "M", "56", "16", "70072"]
    assert result.stats["density"] == 3 / 4


def test_ml1m_kcore_and_paper_warning(tmp_path: Path) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    # item 9 has one rating: 2-core on items drops it, then user 3 (one rating left) too
    lines = ["1::1::5::1", "1::2::5::2", "2::1::5::1", "2::2::5::2", "3::9::5::1", "3::1::5::2"]
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n")
    result = convert(
        "ml-1m",
        folder,
        tmp_path / "out",
        progress=False,
        overrides={"user_core": 2, "item_core": 2},
    )
    assert result.stats["users"] == 2 and result.stats["interactions"] == 4
    assert any("items: 2 here vs 3,398" in w for w in result.report.warnings)
    assert any("movies.dat not found" in w for w in result.report.warnings)


def _netflix_files() -> dict[str, str]:
    return {
        "training_set/mv_0000001.txt": "1:\n7,5,2005-01-02\n8,3,2005-01-01\n",
        "training_set/mv_0000002.txt": "2:\n7,1,2005-01-01\n",
    }


def test_netflix_folder_and_tar(tmp_path: Path) -> None:
    want = [["7", "2", "1104537600"], ["7", "1", "1104624000"], ["8", "1", "1104537600"]]
    folder = tmp_path / "nf"
    for name, text in _netflix_files().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / "movie_titles.txt").write_text("1,2003,Dinosaur Planet\n2,NULL,Isle, The\n")
    convert("netflix", folder, tmp_path / "a", preset="raw", progress=False)
    assert read_atomic(tmp_path / "a" / "netflix" / "netflix.inter")[1] == want
    assert read_atomic(tmp_path / "a" / "netflix" / "netflix.item")[1] == [
        ["1", "Dinosaur Planet", "2003"],
        ["2", "Isle, The", ""],
    ]
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as t:
        for name, text in _netflix_files().items():
            info = tarfile.TarInfo(name)
            info.size = len(text)
            t.addfile(info, io.BytesIO(text.encode()))
    outer = tmp_path / "nf_prize_dataset.tar.gz"
    with tarfile.open(outer, "w:gz") as t:
        info = tarfile.TarInfo("download/training_set.tar")
        info.size = len(inner.getvalue())
        t.addfile(info, io.BytesIO(inner.getvalue()))
    convert("netflix", outer, tmp_path / "b", preset="raw", progress=False)
    assert read_atomic(tmp_path / "b" / "netflix" / "netflix.inter")[1] == want


def test_netflix_bad_header(tmp_path: Path) -> None:
    (tmp_path / "mv_0000003.txt").write_text("7,5,2005-01-02\n")
    with pytest.raises(ConversionError, match="MovieID:"):
        convert("netflix", tmp_path, tmp_path / "o", progress=False)


def test_steam_dict_literals(tmp_path: Path) -> None:
    raw = tmp_path / "steam_reviews.json.gz"
    lines = [
        "{'username': 'b', 'product_id': '20', 'date': '2017-01-02', 'text': 'ok'}",
        '{"username": "a", "product_id": "10", "date": "2017-01-01"}',
        "{'username': 'b', 'product_id': '10', 'date': '2017-01-01', 'early_access': False}",
    ]
    with gzip.open(raw, "wt") as f:
        f.write("\n".join(lines) + "\n")
    result = convert("steam", raw, tmp_path, preset="raw", progress=False)
    assert read_atomic(result.files[0])[1] == [
        ["a", "10", "1483228800"],
        ["b", "10", "1483228800"],
        ["b", "20", "1483315200"],
    ]
    with gzip.open(raw, "at") as f:
        f.write("{'username': 'c', 'product_id'\n")
    with pytest.raises(ConversionError) as e:
        convert("steam", raw, tmp_path, preset="raw", progress=False)
    assert e.value.line == 4


def test_lastfm_sessions_repeats_topk(tmp_path: Path) -> None:
    raw = tmp_path / "userid-timestamp-artid-artname-traid-traname.tsv.bz2"
    rows = [  # user, time, artist; file order: user then time descending
        ("u1", "2009-01-01T20:00:00Z", "C"),
        ("u1", "2009-01-01T03:00:00Z", ""),
        ("u1", "2009-01-01T02:00:00Z", "B"),
        ("u1", "2009-01-01T01:00:00Z", "A"),
        ("u1", "2009-01-01T00:00:00Z", "A"),
        ("u2", "2009-01-01T00:00:00Z", "A"),
    ]
    text = "".join(f"{u}\t{t}\t{a}\tname\t\ttrack\twith tab\n" for u, t, a in rows)
    raw.write_bytes(bz2.compress(text.encode()))
    result = convert(
        "lastfm-1k",
        raw,
        tmp_path,
        preset="raw",
        progress=False,
        overrides={"drop_repeats": True, "top_items": 2},
    )
    header, got = read_atomic(result.files[0])
    assert header[-1] == "session_id:token"
    # sessions (8 h gap): u1 {A, A, B} {C}, u2 {A}; the A,A repeat is dropped; top 2 items: A (2
    # plays), then C over B (1 play each: C is seen first in the file)
    assert got == [
        ["u1", "A", "1230768000", "0"],
        ["u1", "C", "1230840000", "1"],
        ["u2", "A", "1230768000", "2"],
    ]
    assert result.report.skips["empty artist id"] == 1
    assert result.report.skips["immediate repeats"] == 1
    assert result.report.skips["item not in the 2 most popular"] == 1
    assert result.stats["sessions"] == 3 and result.stats["sessions_per_user"] == 1.5


def test_xing_and_reddit_session_filters(tmp_path: Path) -> None:
    xing = tmp_path / "interactions.csv"
    rows = ["user_id\titem_id\tinteraction_type\tcreated_at"]
    rows += ["1\t5\t1\t0", "1\t5\t1\t10", "1\t5\t2\t20", "1\t6\t4\t30", "1\t7\t1\t5000"]
    xing.write_text("\n".join(rows) + "\n")
    result = convert(
        "xing",
        xing,
        tmp_path,
        preset="raw",
        progress=False,
        overrides={
            "drop_types": ("4",),
            "drop_repeats": True,
            "repeat_by_type": True,
            "min_session_len": 2,
        },
    )
    assert read_atomic(result.files[0])[1] == [["1", "5", "0", "0"], ["1", "5", "20", "0"]]
    assert result.stats["sessions"] == 1
    reddit = tmp_path / "reddit_data.csv"
    reddit.write_text("username,subreddit,utc\nbob,aww,100.0\nbob,news,3700.5\nann,aww,1.0\n")
    result = convert("reddit", reddit, tmp_path, preset="raw", progress=False)
    assert read_atomic(result.files[0])[1] == [
        ["ann", "aww", "1.0", "0"],
        ["bob", "aww", "100.0", "1"],
        ["bob", "news", "3700.5", "2"],
    ]
    reddit.write_text("user,sub,time\nbob,aww,1\n")
    with pytest.raises(ConversionError, match="lacks"):
        convert("reddit", reddit, tmp_path, progress=False)


def test_lastfm_profiles_become_the_user_table(tmp_path: Path) -> None:
    raw = tmp_path / "userid-timestamp-artid-artname-traid-traname.tsv"
    raw.write_text("u1\t2009-01-01T00:00:00Z\tA\ta\t\tt\nu2\t2009-01-01T00:00:00Z\tB\tb\t\tt\n")
    (tmp_path / "userid-profile.tsv").write_text(
        "#id\tgender\tage\tcountry\tregistered\n"
        "u1\tm\t\tUnited States\tAug 13, 2006\nu3\tf\t22\tJapan\tFeb 1, 2007\n"
    )
    result = convert("lastfm-1k", raw, tmp_path / "out", preset="raw", progress=False)
    header, rows = read_atomic(tmp_path / "out" / "lastfm-1k" / "lastfm-1k.user")
    assert header == [
        "user_id:token",
        "gender:token",
        "age:token",
        "country:token",
        "registered:token",
    ]
    assert rows == [["u1", "m", "", "United States", "Aug 13, 2006"]]  # u3 has no interaction
    assert any("1 ids of the interactions have no row" in w for w in result.report.warnings)


def test_xing_items_and_users_become_side_tables(tmp_path: Path) -> None:
    (tmp_path / "interactions.csv").write_text(
        "user_id\titem_id\tinteraction_type\tcreated_at\n1\t5\t1\t0\n2\t6\t1\t10\n"
    )
    (tmp_path / "items.csv").write_text("id\ttitle\tcareer_level\ttags\n5\t10,11\t3\t7\n")
    (tmp_path / "users.csv").write_text("id\tjobroles\tcountry\n1\t4,5,6\tde\n2\t\tat\n")
    convert("xing", tmp_path, tmp_path / "out", preset="raw", progress=False)
    header, rows = read_atomic(tmp_path / "out" / "xing" / "xing.item")
    assert header == ["item_id:token", "title:token_seq", "career_level:token", "tags:token_seq"]
    assert rows == [["5", "10 11", "3", "7"]]
    assert read_atomic(tmp_path / "out" / "xing" / "xing.user")[1] == [
        ["1", "4 5 6", "de"],
        ["2", "", "at"],
    ]

#!/usr/bin/env python3
"""Kiln benchmarks: each row is Kiln against the raw tool on the same work, run interleaved (Kiln, raw, Kiln, raw…).

Usage: python3 bench/run.py [--rows ROW,…] [--runs N] [--cold-runs N] [--quick] [--cache-dir DIR] [--json FILE]
       python3 bench/run.py --table [--json FILE]      # README's markdown table from the latest record

Rows (medians of --runs, at least 5; the cold build of --cold-runs, at least 3; --quick allows fewer and is marked):
  startup         ./build.sh --help vs running the built host directly
  boot            BootTest task on the default machine vs the same qemu command line, with the host side of its devices
  cache-hit       whole `./build.sh --target=BootTest` with a cached kernel vs that plain boot (overhead in s)
  run             ./build.sh --target=Run -- true vs ./build.sh --target=BootTest (both cached, same machine profile),
                  and the Run task vs its own qemu command line run by hand (virtme-ng, `vng -- true`, is not
                  packaged in Debian 12 and PyPI is out of reach here, so it is not a column)
  packaging       PackageStage1 task vs `tar | zstd -T0 -12` (Kiln's compressor and level) of the release tarball's files
  packaging-xz    `tar | xz -T0` of the same files, for comparison (time and size)
  incremental     BuildKernel after a one-line change to kernel/sys.c (new bytes each run) vs raw make after the same
                  kind of change, same tree, same O= dir, jobs, environment and ccache (depend mode) as Kiln's make
  patch-loop      BootTest after the series' one patch is rewritten to change one C file (new bytes each run; the
                  built host runs with KILN_ROOT at a copy of the inputs) vs applying the same change to a tree, raw
                  incremental make and raw boot
  source-free-ci  BootTest on a fresh --cache-dir with a registry hit (docker-registry) vs the raw boot
  cold            BuildKernel from an empty build dir and ccache vs raw make (no ccache) of the same tree and .config;
                  about 20 minutes per Kiln/raw pair on 2 cores, so not in the default rows
Each invocation appends a record to the JSON file (default bench/results.json: {"runs": [record, …]}) with every run's
value per side in order, the commit and whether the tree was dirty, the date, the CPU count, the load average before
and after each row and the command lines. A row that cannot run on this checkout says why and is marked skipped.
Kernel builds run in throwaway cache dirs next to --cache-dir's sources and ccache, so no kernel built from an
edited tree is ever stored under a real identity.
"""
import argparse, difflib, json, os, re, shlex, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "6.1"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
DEFAULT_ROWS = ["startup", "boot", "run", "packaging", "incremental", "patch-loop", "source-free-ci"]
ALL_ROWS = DEFAULT_ROWS + ["cold"]
MIN_RUNS, MIN_COLD_RUNS = 5, 3
# The C file the incremental and patch-loop rows change: built in every tinyconfig kernel.
EDITED_FILE = "kernel/sys.c"
REGISTRY = "/usr/bin/docker-registry"


class BenchError(Exception):
    """A step failed: the row is recorded as failed with this message, the other rows still run."""


class Skipped(Exception):
    """The row cannot run on this checkout or host; the message says why."""


def run(cmd, env=None):
    """Runs a command, returns (seconds, output). Output is kept for parsing, not shown."""
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          shell=isinstance(cmd, str))
    elapsed = round(time.monotonic() - start, 3)
    out = ANSI.sub("", proc.stdout)
    if proc.returncode in (-2, -15, 130, 143):
        raise KeyboardInterrupt  # the step was interrupted: stop the whole benchmark, not just this row
    if proc.returncode != 0:
        raise BenchError(f"exit {proc.returncode}: {cmd if isinstance(cmd, str) else shlex.join(map(str, cmd))}\n{out[-2000:]}")
    return elapsed, out


def kiln_cmd(*args, cache_dir, out_dir):
    return [str(ROOT / "build.sh"), *args, f"--kernel={KERNEL}", f"--cache-dir={cache_dir}", f"--out={out_dir}"]


def kiln(*args, cache_dir, out_dir):
    return run(kiln_cmd(*args, cache_dir=cache_dir, out_dir=out_dir))


def task_seconds(output, task):
    """A task's duration from the host's report table: '  BootTest   00:00:02.1465852   Succeeded'."""
    m = re.search(rf"^\s*{task}\s+(\d+):(\d+):(\d+\.\d+)\s+Succeeded", output, re.M)
    if not m:
        raise BenchError(f"no duration for task {task} in the output")
    h, mnt, s = m.groups()
    return round(int(h) * 3600 + int(mnt) * 60 + float(s), 3)


def logged_command(output, pattern):
    """The arguments of the first command the verbose log shows ('$ make -C …') whose line matches pattern."""
    line = next((l for l in output.splitlines() if l.startswith("$ ") and re.search(pattern, l)), None)
    if line is None:
        raise BenchError(f"no command matching {pattern!r} in Kiln's verbose output")
    return shlex.split(line[2:].split("   (in ", 1)[0])


def make_invocation(output):
    """Kiln's make of the image as its verbose log shows it: tree (-C), build dir (O=), the whole argument list."""
    args = logged_command(output, r"^\$ make -C .* O=.* (bzImage|Image)( |$)")
    tree = args[args.index("-C") + 1]
    build = next(a[2:] for a in args if a.startswith("O="))
    return {"args": args, "tree": tree, "build": build}


def build_environment(tree, cache_dir, ccache=True):
    """What Kiln's make runs with (kernel/Build/KernelBuilder.cs, ReproducibleEnvironment), for the raw side of a row."""
    env = dict(os.environ)
    for name in ("LC_CTYPE", "LC_MESSAGES"):
        env.pop(name, None)
    stamp = time.gmtime(os.stat(Path(tree) / "Makefile").st_mtime)
    env.update({"KBUILD_BUILD_TIMESTAMP": time.strftime("%Y-%m-%d %H:%M:%S UTC", stamp), "KBUILD_BUILD_USER": "kiln",
                "KBUILD_BUILD_HOST": "kiln", "KBUILD_BUILD_VERSION": "1", "LC_ALL": "C", "LANG": "C", "TZ": "UTC"})
    if ccache:
        env.update({"CCACHE_DIR": str(Path(cache_dir) / "ccache"), "CCACHE_BASEDIR": str(Path(cache_dir)),
                    "CCACHE_NOHASHDIR": "1", "CCACHE_COMPILERCHECK": "content", "CCACHE_DEPEND": "1"})
    return env


def raw_make_args(kiln_make, tree, build, ccache):
    """Kiln's make line for the image alone (a developer's `make bzImage`), pointed at tree and build, with or without ccache."""
    args = ["make", "-C", str(tree), f"O={build}"]
    for a in kiln_make["args"][1:]:
        if a.startswith(("-j", "ARCH=", "CROSS_COMPILE=", "LOCALVERSION=")) or (ccache and a.startswith("CC=")):
            args.append(a)
    return args + ["bzImage"]


def median(values):
    return statistics.median(values)


def load():
    return [round(x, 2) for x in os.getloadavg()]


def replace_file(path, text):
    """Writes a new inode: the tree's files are hard links into the source cache, which must never change."""
    tmp = Path(str(path) + ".kiln-bench-tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def edited(original, n):
    """A one-line change with different bytes each run."""
    return original + f"int kiln_bench_{os.getpid()}_{n};\n"


def source_directory(cache_dir):
    """The extracted source tree in the cache (a cache hit does not extract it, so the log may not name it)."""
    trees = sorted(p for p in (Path(cache_dir) / "sources").glob("*/") if (p / "Makefile").exists() and (p / "Kconfig").exists())
    if not trees:
        raise BenchError(f"no extracted source tree under {cache_dir}/sources: run ./build.sh --target=Patch --kernel={KERNEL} once")
    return trees[-1]


def inputs_with_series(work, name, patches):
    """A copy of the repository's inputs whose series for KERNEL is just `patches` (name -> text): Kiln reads the series
    from KILN_ROOT's patches/, and the repository's own must not change under a benchmark."""
    root = work / name
    root.mkdir()
    for f in ("versions.yaml", "kata_config_version"):
        shutil.copy(ROOT / f, root / f)
    shutil.copytree(ROOT / "configs", root / "configs")
    series = root / "patches" / f"{KERNEL}.x"
    series.mkdir(parents=True)
    for file_name, text in patches.items():
        (series / file_name).write_text(text)
    return root, series


def throwaway_cache(cache_dir, work, name, ccache="shared"):
    """A cache dir of its own next to cache_dir's sources (and its ccache, or an empty one): builds here never touch
    cache_dir's kernels, trees or build dirs."""
    path = work / name
    (path / "sources").mkdir(parents=True)
    for src in (Path(cache_dir) / "sources").iterdir():
        (path / "sources" / src.name).symlink_to(src)
    if ccache == "shared":
        (Path(cache_dir) / "ccache").mkdir(exist_ok=True)
        (path / "ccache").symlink_to(Path(cache_dir).resolve() / "ccache")
    return path


# --- rows ---

def row_startup(ctx):
    run([str(ROOT / "build.sh"), "--help"])  # builds the host once, outside the measurement
    kiln_cmd_, raw_cmd = [str(ROOT / "build.sh"), "--help"], ["dotnet", str(ROOT / ".kiln-host" / "Build.dll"), "--help"]
    kiln_s, raw_s = [], []
    for _ in range(ctx.runs):
        kiln_s.append(run(kiln_cmd_)[0])
        raw_s.append(run(raw_cmd)[0])
    return {"what": "./build.sh --help vs dotnet .kiln-host/Build.dll --help", "measure": "ratio", "target": None,
            "kiln_s": kiln_s, "raw_s": raw_s, "commands": {"kiln": shlex.join(kiln_cmd_), "raw": shlex.join(raw_cmd)}}


def serve_token(server):
    """What Kiln's port does for the guest's net check: read one HTTP request, answer with a token."""
    conn, _ = server.accept()
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(1024)
            if not chunk:
                return
            data += chunk
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\ntoken\n")
        while conn.recv(1024):
            pass


def qemu_command(output):
    """The QEMU command line BootTest ran, from its verbose log."""
    line = next((l for l in output.splitlines() if re.search(r"\$ qemu-system-.* -kernel ", l)), None)
    if line is None:
        raise BenchError("no qemu command line in Kiln's verbose output")
    return line.split("$ ", 1)[1]


def raw_boot(qemu_cmd, devices_dir, kernel=None):
    """Kiln's QEMU command line run by hand, with the host side its devices need started the same way Kiln does."""
    start = time.monotonic()
    cmd, server, virtiofsd = qemu_cmd, None, None
    if kernel:
        cmd = re.sub(r"-kernel \S+", f"-kernel {shlex.quote(str(kernel))}", cmd)
    forward = re.search(r"(guestfwd=tcp:[\d.]+:\d+-tcp:127\.0\.0\.1:)(\d+)", cmd)
    if forward:
        server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=serve_token, args=(server,), daemon=True).start()
        cmd = cmd.replace(forward.group(0), forward.group(1) + str(server.getsockname()[1]))
    share = re.search(r"socket,id=kilnfs,path=([^ ',]+)", cmd)
    if share:
        sock = os.path.join(tempfile.gettempdir(), f"kiln-bench-{os.getpid()}.sock")
        cmd = cmd.replace(share.group(1), sock)
        virtiofsd = subprocess.Popen(["/usr/lib/qemu/virtiofsd", f"--socket-path={sock}", "-o", f"source={devices_dir}/share-virtio-fs",
                                      "-o", "cache=none", "-o", "sandbox=chroot"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(sock):
            time.sleep(0.02)
    try:
        run(cmd)
    finally:
        if server:
            server.close()
        if virtiofsd:
            virtiofsd.wait(timeout=10)
            Path(sock).unlink(missing_ok=True)
    return round(time.monotonic() - start, 3)


def row_boot(ctx):
    """Two rows from the same runs: the BootTest task and the whole cached pipeline, each against the plain boot."""
    out_dir = ctx.work / "boot-out"
    command = kiln_cmd("--target=BootTest", "--verbosity=verbose", cache_dir=ctx.cache_dir, out_dir=out_dir)
    totals, tasks, plain, qemu_cmd = [], [], [], None
    for _ in range(ctx.runs):
        seconds, out = run(command)
        if "Cache hit" not in out:
            raise BenchError("BootTest did not use the cached kernel")
        totals.append(seconds)
        tasks.append(task_seconds(out, "BootTest"))
        qemu_cmd = qemu_command(out)
        plain.append(raw_boot(qemu_cmd, out_dir / "boot" / "devices"))
    commands = {"kiln": shlex.join(command), "raw": qemu_cmd + "  (plus the port guestfwd connects to and virtiofsd)"}
    return [
        ("boot", {"what": "BootTest task, default machine (initramfs + devices + QEMU + verdict) vs the same qemu command line and device host side",
                  "measure": "ratio", "target": 1.10, "kiln_s": tasks, "raw_s": plain, "commands": commands}),
        ("cache-hit", {"what": "./build.sh --target=BootTest (cache hit, whole pipeline) vs the plain boot",
                       "measure": "overhead", "target": 5.0, "kiln_s": totals, "raw_s": plain, "commands": commands}),
    ]


def row_run(ctx):
    """Two rows from the same interleaved runs: Run against BootTest (the issue's target), and Run's task against its QEMU."""
    run_out, boot_out = ctx.work / "run-out", ctx.work / "run-boot-out"
    run_cmd = kiln_cmd("--target=Run", "--verbosity=verbose", cache_dir=ctx.cache_dir, out_dir=run_out) + ["--", "true"]
    boot_cmd = kiln_cmd("--target=BootTest", cache_dir=ctx.cache_dir, out_dir=boot_out)
    runs, boots, tasks, plain, qemu_cmd = [], [], [], [], None
    for _ in range(ctx.runs):
        seconds, out = run(run_cmd)
        if "Cache hit" not in out:
            raise BenchError("Run did not use the cached kernel")
        runs.append(seconds)
        tasks.append(task_seconds(out, "Run"))
        qemu_cmd = qemu_command(out)
        boots.append(run(boot_cmd)[0])
        plain.append(raw_boot(qemu_cmd, run_out / "run"))
    commands = {"kiln": shlex.join(run_cmd), "raw": shlex.join(boot_cmd)}
    return [
        ("run", {"what": "./build.sh --target=Run -- true vs ./build.sh --target=BootTest, cached kernel, default machine",
                 "measure": "overhead", "target": 1.0, "kiln_s": runs, "raw_s": boots, "commands": commands}),
        ("run-qemu", {"what": "Run task (initramfs, 9p shares, output ports, QEMU, exit status) vs the same qemu command line",
                      "measure": "ratio", "target": None, "kiln_s": tasks, "raw_s": plain,
                      "commands": {"kiln": shlex.join(run_cmd), "raw": qemu_cmd}}),
    ]


def release_files(out_dir):
    """The files the release tarball holds: every file of the build, as metadata.json lists them."""
    return sorted(json.loads((Path(out_dir) / "metadata.json").read_text())["files"]) + ["metadata.json"]


def row_packaging(ctx):
    """PackageStage1 vs tar | zstd -T0 -12 (what Kiln's release tarball uses), and tar | xz -T0 as its own row."""
    out_dir = ctx.work / "package-out"
    kiln("--target=BootTest", cache_dir=ctx.cache_dir, out_dir=out_dir)  # the boot PackageStage1 needs, outside the measurement
    command = kiln_cmd("--target=PackageStage1", cache_dir=ctx.cache_dir, out_dir=out_dir)
    files = " ".join(shlex.quote(f) for f in release_files(out_dir))
    zst, xz = ctx.work / "raw.tar.zst", ctx.work / "raw.tar.xz"
    zstd_cmd = f"tar -C {shlex.quote(str(out_dir))} -cf - {files} | zstd -T0 -12 -q > {shlex.quote(str(zst))}"
    xz_cmd = f"tar -C {shlex.quote(str(out_dir))} -cf - {files} | xz -T0 > {shlex.quote(str(xz))}"
    kiln_s, zstd_s, xz_s = [], [], []
    for _ in range(ctx.runs):
        kiln_s.append(task_seconds(run(command)[1], "PackageStage1"))
        zstd_s.append(run(zstd_cmd)[0])
        xz_s.append(run(xz_cmd)[0])
    release = next((out_dir / "package").rglob("kiln-linux-*.tar.*"))
    return [
        ("packaging", {"what": "PackageStage1 task (ACI, Kata layout, OCI, release tarball, sums) vs tar | zstd -T0 -12 of the release tarball's files",
                       "measure": "ratio", "target": None, "kiln_s": kiln_s, "raw_s": zstd_s,
                       "kiln_bytes": release.stat().st_size, "raw_bytes": zst.stat().st_size,
                       "commands": {"kiln": shlex.join(command), "raw": zstd_cmd}}),
        ("packaging-xz", {"what": "tar | xz -T0 of the same files (not what Kiln writes; for comparison with the zstd row)",
                          "measure": "raw-only", "target": None, "kiln_s": None, "raw_s": xz_s, "raw_bytes": xz.stat().st_size,
                          "commands": {"raw": xz_cmd}}),
    ]


def compiled(build_log, path):
    """Whether make's log shows the object of the edited file being compiled (kbuild: '  CC      kernel/sys.o')."""
    obj = re.escape(str(Path(path).with_suffix(".o")))
    return re.search(rf"^\s*CC\s+{obj}$", Path(build_log).read_text(errors="replace"), re.M) is not None


def row_incremental(ctx):
    cache = throwaway_cache(ctx.cache_dir, ctx.work, "incremental-cache")
    out_dir = ctx.work / "incremental-out"
    command = kiln_cmd("--target=BuildKernel", "--no-cache", "--verbosity=verbose", cache_dir=cache, out_dir=out_dir)
    print("  incremental: first build in its own cache dir (ccache hits; not measured)", file=sys.stderr)
    _, out = run(command)
    make = make_invocation(out)
    source = Path(make["tree"]) / EDITED_FILE
    original = source.read_text()
    env = build_environment(make["tree"], cache)
    raw_cmd = raw_make_args(make, make["tree"], make["build"], ccache=True)
    kiln_s, kiln_task_s, raw_s, n = [], [], [], 0
    try:
        for _ in range(ctx.runs):
            n += 1
            replace_file(source, edited(original, n))
            seconds, out = run(command)
            if edited(original, n) != source.read_text() or not compiled(out_dir / "build.log", EDITED_FILE):
                raise Skipped(f"Kiln did not build the edited {source} (it reset or replaced the tree it builds from); "
                              "a change to a C file needs --source=PATH or a patch on this checkout")
            kiln_s.append(seconds)
            kiln_task_s.append(task_seconds(out, "BuildKernel"))
            n += 1
            replace_file(source, edited(original, n))
            raw_s.append(run(raw_cmd, env=env)[0])
    finally:
        replace_file(source, original)
    return {"what": f"./build.sh --target=BuildKernel --no-cache after a one-line change to {EDITED_FILE} vs raw make bzImage after the same kind "
                    "of change, same tree and O= dir, same jobs and environment",
            "measure": "ratio", "target": 1.2, "kiln_s": kiln_s, "raw_s": raw_s, "kiln_task_s": kiln_task_s,
            "ccache": "both: ccache in depend mode with Kiln's settings and ccache dir (the changed file misses on both sides)",
            "commands": {"kiln": shlex.join(command), "raw": shlex.join(raw_cmd)}}


def row_cold(ctx):
    kiln_s, kiln_task_s, raw_s = [], [], []
    raw_cmd = None
    for i in range(ctx.cold_runs):
        cache = throwaway_cache(ctx.cache_dir, ctx.work, f"cold-cache-{i}", ccache="empty")
        out_dir = ctx.work / f"cold-out-{i}"
        command = kiln_cmd("--target=BuildKernel", "--no-cache", "--verbosity=verbose", f"--jobs={ctx.jobs}", cache_dir=cache, out_dir=out_dir)
        print(f"  cold {i + 1}/{ctx.cold_runs}: Kiln, then raw make (about 10 minutes each on 2 cores)", file=sys.stderr)
        seconds, out = run(command)
        kiln_s.append(seconds)
        kiln_task_s.append(task_seconds(out, "BuildKernel"))
        make = make_invocation(out)
        raw_dir = ctx.work / f"cold-raw-{i}"
        raw_dir.mkdir()
        shutil.copy(out_dir / "config", raw_dir / ".config")
        env = build_environment(make["tree"], cache, ccache=False)
        run(["make", "-C", make["tree"], f"O={raw_dir}", *[a for a in make["args"] if a.startswith(("ARCH=", "CROSS_COMPILE="))], "olddefconfig"], env=env)
        raw_cmd = raw_make_args(make, make["tree"], raw_dir, ccache=False)
        raw_s.append(run(raw_cmd, env=env)[0])
        shutil.rmtree(raw_dir, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    return {"what": f"./build.sh --target=BuildKernel from an empty build dir and ccache vs make -j{ctx.jobs} bzImage on the same tree and .config",
            "measure": "ratio", "target": 1.05, "kiln_s": kiln_s, "raw_s": raw_s, "kiln_task_s": kiln_task_s,
            "ccache": "Kiln: ccache (empty, depend mode); raw: none, so Kiln's ccache misses are Kiln's cost",
            "commands": {"kiln": shlex.join(command), "raw": shlex.join(raw_cmd)}}


def help_text():
    return run([str(ROOT / "build.sh"), "--help"])[1]


def patch_for(original, n):
    """A one-patch series' patch: the one-line change of run n to EDITED_FILE, in git's a/ b/ form."""
    diff = difflib.unified_diff(original.splitlines(keepends=True), edited(original, n).splitlines(keepends=True),
                                f"a/{EDITED_FILE}", f"b/{EDITED_FILE}")
    return (f"From: Kiln bench <bench@kiln>\nSubject: [PATCH] bench: change {EDITED_FILE} (run {n})\n\nA benchmark's change.\n\n"
            f"Signed-off-by: Kiln bench <bench@kiln>\n---\n" + "".join(diff))


def mirrored(path, cache, root):
    """path's place under root as it sits under cache, so ccache (base dir = the cache dir) sees the same relative paths."""
    try:
        return root / Path(path).resolve().relative_to(Path(cache).resolve())
    except ValueError:
        return root / Path(path).name


def row_patch_loop(ctx):
    cache = throwaway_cache(ctx.cache_dir, ctx.work, "patch-loop-cache")
    out_dir = ctx.work / "patch-loop-out"
    pristine = source_directory(ctx.cache_dir)
    original = (pristine / EDITED_FILE).read_text()
    root, series = inputs_with_series(ctx.work, "patch-loop-inputs", {})
    patch = series / "0001-bench-change-one-C-file.patch"
    # The built host with KILN_ROOT at the copied inputs: build.sh always points KILN_ROOT at its own checkout (the
    # start-up row measures what build.sh adds).
    run([str(ROOT / "build.sh"), "--help"])
    command = ["dotnet", str(ROOT / ".kiln-host" / "Build.dll"), "--target=BootTest", f"--kernel={KERNEL}", "--verbosity=verbose",
               f"--cache-dir={cache}", f"--out={out_dir}"]
    kiln_env = dict(os.environ, KILN_ROOT=str(root))

    print("  patch-loop: first build of the series in its own cache dir, and the raw tree's (not measured)", file=sys.stderr)
    n = 0
    patch.write_text(patch_for(original, n))
    _, out = run(command, env=kiln_env)
    make = make_invocation(out)
    # The raw side: the pristine source with the same patch, built in a directory of its own with Kiln's .config.
    raw_root = ctx.work / "patch-loop-raw"
    raw_tree, raw_build = mirrored(make["tree"], cache, raw_root), mirrored(make["build"], cache, raw_root)
    raw_tree.parent.mkdir(parents=True)
    run(["cp", "-al", str(pristine.resolve()), str(raw_tree)])
    raw_build.mkdir(parents=True)
    shutil.copy(Path(make["build"]) / ".config", raw_build / ".config")
    raw_file = raw_tree / EDITED_FILE
    replace_file(raw_file, edited(original, n))
    env = build_environment(raw_tree, raw_root)
    env["CCACHE_DIR"] = str(cache / "ccache")
    raw_cmd = raw_make_args(make, raw_tree, raw_build, ccache=True)
    run(raw_cmd, env=env)
    qemu_cmd = qemu_command(out)

    kiln_s, raw_s, raw_make_s = [], [], []
    for _ in range(ctx.runs):
        n += 1
        patch.write_text(patch_for(original, n))
        seconds, out = run(command, env=kiln_env)
        if not compiled(out_dir / "build.log", EDITED_FILE):
            raise BenchError(f"Kiln's build.log shows no compile of {EDITED_FILE} after the patch changed it")
        kiln_s.append(seconds)
        n += 1
        start = time.monotonic()
        replace_file(raw_file, edited(original, n))
        raw_make_s.append(run(raw_cmd, env=env)[0])
        raw_boot(qemu_command(out), out_dir / "boot" / "devices", kernel=raw_build / "arch" / "x86" / "boot" / "bzImage")
        raw_s.append(round(time.monotonic() - start, 3))
    return {"what": f"BootTest with a one-patch series whose one-line change to {EDITED_FILE} is new each run (the working tree is switched, "
                    "not copied), vs the same change in a tree, raw make bzImage and the raw boot",
            "measure": "ratio", "target": 1.2, "kiln_s": kiln_s, "raw_s": raw_s, "raw_make_s": raw_make_s,
            "ccache": "both: ccache in depend mode with Kiln's settings and ccache dir",
            "commands": {"kiln": f"KILN_ROOT={root} " + shlex.join(command), "raw": shlex.join(raw_cmd) + " && " + qemu_cmd}}


def start_registry(work):
    if not os.path.exists(REGISTRY):
        raise Skipped(f"{REGISTRY} is missing: apt-get install docker-registry")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = work / "registry"
    root.mkdir()
    (root / "config.yml").write_text(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n"
                                     f"http:\n  addr: 127.0.0.1:{port}\n")
    process = subprocess.Popen([REGISTRY, "serve", str(root / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"127.0.0.1:{port}/kiln/kernels"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise BenchError("docker-registry did not listen within 20 s")


def ci_outputs(path):
    return dict(l.split("=", 1) for l in Path(path).read_text().splitlines() if "=" in l) if Path(path).exists() else {}


def row_source_free_ci(ctx):
    registry, address = start_registry(ctx.work)
    try:
        seed_out = ctx.work / "ci-seed-out"
        seed = kiln("--target=BootTest", f"--cache-registry={address}", f"--ci-output={ctx.work / 'ci-seed.txt'}", cache_dir=ctx.cache_dir, out_dir=seed_out)[1]
        if ci_outputs(ctx.work / "ci-seed.txt").get("pushed") != "true":
            raise BenchError("seeding the registry: BootTest with the cached kernel did not push it\n" + seed[-1500:])
        kiln_s, raw_s, unpacked, command = [], [], [], None
        for i in range(ctx.runs):
            fresh, out_dir, outputs = ctx.work / f"ci-cache-{i}", ctx.work / f"ci-out-{i}", ctx.work / f"ci-{i}.txt"
            command = kiln_cmd("--target=BootTest", f"--cache-registry={address}", f"--ci-output={outputs}", "--verbosity=verbose",
                               cache_dir=fresh, out_dir=out_dir)
            seconds, out = run(command)
            if ci_outputs(outputs).get("cache") != "pulled":
                raise BenchError(f"the fresh cache dir did not pull the kernel from the registry (cache={ci_outputs(outputs).get('cache')})")
            kiln_s.append(seconds)
            sources = fresh / "sources"
            unpacked.append(sources.exists() and any(p.is_dir() for p in sources.iterdir()))
            raw_s.append(raw_boot(qemu_command(out), out_dir / "boot" / "devices"))
            shutil.rmtree(fresh, ignore_errors=True)
    finally:
        registry.kill()
        registry.wait()
    return {"what": "./build.sh --target=BootTest on a fresh --cache-dir with a registry hit (docker-registry on 127.0.0.1) vs the raw boot",
            "measure": "overhead", "target": 5.0, "kiln_s": kiln_s, "raw_s": raw_s, "source_unpacked": unpacked,
            "commands": {"kiln": shlex.join(command), "raw": "the qemu command line of the run, as in the boot row"}}


ROWS = {"startup": row_startup, "boot": row_boot, "run": row_run, "packaging": row_packaging, "incremental": row_incremental,
        "patch-loop": row_patch_loop, "source-free-ci": row_source_free_ci, "cold": row_cold}


def summarise(row):
    """Medians, the ratio or overhead, and whether the target is met (None without a target or with a skip)."""
    if row.get("kiln_s"):
        row["kiln_median_s"] = median(row["kiln_s"])
    if row.get("raw_s"):
        row["raw_median_s"] = median(row["raw_s"])
    if "kiln_median_s" in row and "raw_median_s" in row:
        if row["measure"] == "ratio":
            row["ratio"] = row["kiln_median_s"] / row["raw_median_s"]
            row["met"] = None if row["target"] is None else row["ratio"] <= row["target"]
        else:
            row["overhead_s"] = row["kiln_median_s"] - row["raw_median_s"]
            row["met"] = row["overhead_s"] <= row["target"] and not any(row.get("source_unpacked", []))
    return row


def git(*args):
    return subprocess.run(["git", "-C", str(ROOT), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()


def load_results(path):
    """The records so far; the file from before records ({name: medians…, "meta": …}) becomes the first one."""
    if not Path(path).exists():
        return {"runs": []}
    data = json.loads(Path(path).read_text())
    if "runs" in data:
        return data
    meta = data.pop("meta", {})
    return {"runs": [{"date": meta.get("time"), "cpus": meta.get("cpus"), "runs_per_row": meta.get("runs"),
                      "format": "medians only (before per-run values were kept)", "rows": data}]}


# --- the markdown table ---

LABELS = {
    "startup": "start-up (`./build.sh --help` vs the built host)",
    "boot": "BootTest vs plain `qemu-system-x86_64`",
    "cache-hit": "cache-hit BootTest pipeline vs the plain boot",
    "run": "`--target=Run -- true` vs `--target=BootTest` (both cached)",
    "run-qemu": "Run task vs its own qemu command line",
    "packaging": "packaging (ACI, Kata, OCI, tarball, sums) vs `tar \\| zstd -T0 -12` of the same files",
    "packaging-xz": "`tar \\| xz -T0` of the same files (for comparison)",
    "incremental": "incremental BuildKernel (one-line change to `kernel/sys.c`) vs raw make, both ccache",
    "patch-loop": "patch loop: BootTest after changing the one patch vs raw make + boot",
    "source-free-ci": "source-free CI: BootTest, fresh cache dir, registry hit vs raw boot",
    "cold": "cold BuildKernel vs `make bzImage` (raw without ccache)",
}
ORDER = ["startup", "boot", "cache-hit", "run", "run-qemu", "packaging", "packaging-xz", "incremental", "patch-loop", "source-free-ci", "cold"]


def seconds(value):
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def cells(row):
    """Kiln, raw, ratio/overhead, target and runs cells of a measured row."""
    size = lambda key: f", {row[key] / 1e6:.1f} MB" if key in row else ""
    kiln = seconds(row["kiln_median_s"]) + size("kiln_bytes") if "kiln_median_s" in row else "—"
    raw = seconds(row["raw_median_s"]) + size("raw_bytes") if "raw_median_s" in row else "—"
    if "ratio" in row:
        result = f"{row['ratio']:.2f}"
    elif "overhead_s" in row:
        result = f"{row['overhead_s']:+.2f} s"
    else:
        result = ""
    if row.get("source_unpacked"):
        result += ", source unpacked" if any(row["source_unpacked"]) else ", nothing unpacked"
    target = "" if row.get("target") is None else (f"≤ {row['target']:.2f}" if row["measure"] == "ratio" else f"≤ +{row['target']:.0f} s")
    if row.get("met") is not None:
        target += " ✓" if row["met"] else " ✗"
    runs = len(row.get("kiln_s") or row.get("raw_s") or [])
    return [kiln, raw, result, target, str(runs)]


def when(record, row):
    """The measured column: the record's date and the 1-minute load average before the row (2 cores were busy with more)."""
    return f"{record['date'][:10]}, load {row['load_before'][0]:.0f}" + (", --quick" if record.get("quick") else "")


def table(results):
    """README's table: each row from the latest record that measured it, marked when that is not the latest record."""
    records = results["runs"]
    latest = records[-1]
    lines = ["| benchmark | Kiln | raw tool | ratio / overhead | target | runs | measured |", "|---|---|---|---|---|---|---|"]
    for name in ORDER:
        label = LABELS[name]
        measured = next((r for r in reversed(records) if "format" not in r and name in r["rows"] and "skipped" not in r["rows"][name]
                         and "failed" not in r["rows"][name]), None)
        if measured is None:
            in_latest = latest["rows"].get(name, {})
            if "skipped" in in_latest or "failed" in in_latest:
                reason = in_latest.get("skipped") or in_latest["failed"].splitlines()[0]
                lines.append(f"| {label} | {'skipped' if 'skipped' in in_latest else 'failed'}: {reason} | | | | | {latest['date'][:10]} |")
            else:
                older = next((r for r in reversed(records) if name in r["rows"]), None)
                status = f"not re-measured since {older['date'][:10]}" if older else "not measured yet"
                lines.append(f"| {label} | {status} | | | | | |")
            continue
        row = measured["rows"][name]
        lines.append("| " + " | ".join([label] + cells(row) + [when(measured, row)]) + " |")
    return "\n".join(lines)


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"comma-separated, of: {', '.join(ALL_ROWS)} (default: all but cold)")
    parser.add_argument("--runs", type=int, default=MIN_RUNS, help=f"runs per side and row (at least {MIN_RUNS} unless --quick)")
    parser.add_argument("--cold-runs", type=int, default=MIN_COLD_RUNS, help=f"runs per side of the cold row (at least {MIN_COLD_RUNS} unless --quick)")
    parser.add_argument("--quick", action="store_true", help="allow fewer runs; the record and the table say so")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="make jobs of the cold row")
    parser.add_argument("--cache-dir", default=os.environ.get("KILN_CACHE_DIR", str(Path.home() / ".cache" / "kiln")),
                        help="a Kiln cache holding the 6.1 kernel (the cached rows) and its source and ccache (the build rows start from them)")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--table", action="store_true", help="print the markdown table of the latest record and exit")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the edited file is restored, the registry stopped and the work dir removed.
    signal.signal(signal.SIGTERM, interrupted)

    results = load_results(args.json)
    if args.table:
        print(table(results))
        return
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown row {', '.join(unknown)}; rows: {', '.join(ALL_ROWS)}")
    if not args.quick and (args.runs < MIN_RUNS or args.cold_runs < MIN_COLD_RUNS):
        parser.error(f"--runs must be at least {MIN_RUNS} and --cold-runs at least {MIN_COLD_RUNS} for a median worth keeping; "
                     "--quick allows fewer and marks the record")

    work = Path(tempfile.mkdtemp(prefix="kiln-bench-"))
    ctx = argparse.Namespace(runs=args.runs, cold_runs=args.cold_runs, jobs=args.jobs, cache_dir=Path(args.cache_dir).resolve(), work=work)
    record = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": git("rev-parse", "HEAD"),
              "dirty": bool(git("status", "--porcelain", "--untracked-files=no")), "cpus": os.cpu_count(), "jobs": args.jobs,
              "runs_per_row": args.runs, "cold_runs": args.cold_runs, "quick": args.quick, "kernel": KERNEL,
              "command": shlex.join([sys.executable, *sys.argv]), "rows": {}}
    try:
        print("warming up: cached kernel and host", file=sys.stderr)
        try:
            ctx.warmup = kiln("--target=BootTest", cache_dir=ctx.cache_dir, out_dir=work / "warmup-out")[1]
        except BenchError as e:
            sys.exit(f"the warm-up BootTest failed; the benchmark needs a 6.1 kernel that boots in --cache-dir={ctx.cache_dir}:\n{e}")
        for name in rows:
            print(f"{name}…", file=sys.stderr)
            before = load()
            try:
                produced = ROWS[name](ctx)
                produced = produced if isinstance(produced, list) else [(name, produced)]
            except Skipped as e:
                produced = [(name, {"skipped": str(e)})]
            except BenchError as e:
                produced = [(name, {"failed": str(e)})]
            except Exception as e:  # a bug in one row must not lose the others' measurements
                produced = [(name, {"failed": f"{type(e).__name__}: {e}"})]
            after = load()
            for row_name, row in produced:
                record["rows"][row_name] = {**summarise(row), "load_before": before, "load_after": after}
    except KeyboardInterrupt:
        print("interrupted: no record written", file=sys.stderr)
        sys.exit(130)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results["runs"].append(record)
    Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(table(results))
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()

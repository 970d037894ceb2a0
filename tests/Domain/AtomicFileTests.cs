using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Processes;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Domain;

public class AtomicFileTests
{
    [Test]
    public void A_failed_write_keeps_the_old_file_and_leaves_no_temporary_file()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "sub", "report.json");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, (Stream s) =>
        {
            s.Write("new, half written"u8);
            throw new IOException("disk full");
        }));
        Assert.That(File.ReadAllText(path), Is.EqualTo("old"));
        Assert.That(Directory.GetFiles(Path.GetDirectoryName(path)!), Is.EqualTo(new[] { path }));
    }

    [Test]
    public void Temporary_names_sit_next_to_the_target_and_carry_the_process_id()
    {
        var temp = AtomicFile.TempPathFor("/cache/kernels/6.1.192-1-abc");
        Assert.That(temp, Does.StartWith("/cache/kernels/.6.1.192-1-abc.tmp-" + Environment.ProcessId + "-"));
        Assert.That(Path.GetFileName(temp), Does.StartWith(AtomicFile.TempPrefix("/cache/kernels/6.1.192-1-abc")));
    }

    [Test]
    public void Lock_and_layout_paths_come_from_one_place()
    {
        var paths = new KilnPaths("/c", "/o");
        Assert.That(paths.BuildLock("/c/work/6.1.192-x86_64-dbg/build"), Is.EqualTo("/c/locks/build-6.1.192-x86_64-dbg-build.lock"));
        // Each bisect's work dir has its own build lock, though every one of them is named "build".
        Assert.That(paths.BuildLock("/c/bisect/linux-ff75bac55804/build"), Is.EqualTo("/c/locks/build-bisect-linux-ff75bac55804-build.lock"));
        Assert.That(paths.BuildLock("/c/bisect/linux-0123456789ab/build"), Is.Not.EqualTo(paths.BuildLock("/c/bisect/linux-ff75bac55804/build")));
        Assert.That(paths.BuildLock("/elsewhere/build"), Does.Match(@"^/c/locks/build-[0-9a-f]{16}\.lock$"));
        Assert.That(paths.BuildDirectory("6.1.192", Kiln.Kernel.Arch.Arm64, "dbg", "docker"), Is.EqualTo("/c/work/6.1.192-arm64-dbg-docker/build"));
        Assert.That(paths.BuildDirectory("6.1.192", Kiln.Kernel.Arch.X86_64, "", "host"), Is.EqualTo("/c/work/6.1.192-x86_64/build"));
        Assert.That(KilnPaths.WorkingTree("/c/work/6.1.192-x86_64/build"), Is.EqualTo("/c/work/6.1.192-x86_64/linux"));
        Assert.That(paths.BuildDirectory("6.1.192", Kiln.Kernel.Arch.X86_64, "dbg", "docker", "fast", "confidential"),
            Is.EqualTo("/c/work/6.1.192-x86_64-dbg-build-type-fast-conf-guest-confidential-docker/build"));
        Assert.That(KilnPaths.Busybox("/c", Kiln.Kernel.Arch.Arm64), Is.EqualTo("/c/busybox/arm64/busybox"));
    }

    [Test]
    public void A_streaming_command_hands_over_its_bytes_and_checks_its_exit_code()
    {
        using (var cat = new Command("sh", "-c", "printf 'a\\0b'").StartStreaming(new RecordingLog()))
        {
            using var copy = new MemoryStream();
            cat.Output.CopyTo(copy);
            Assert.That(copy.ToArray(), Is.EqualTo(new byte[] { (byte)'a', 0, (byte)'b' }));
            Assert.That(cat.Finish().ExitCode, Is.EqualTo(0));
        }
        using var failing = new Command("sh", "-c", "echo broken >&2; exit 3") { Purpose = "fail" }.StartStreaming(new RecordingLog());
        failing.Output.CopyTo(Stream.Null);
        var e = Assert.Throws<CommandFailedException>(() => failing.Finish())!;
        Assert.That(e.Result.ExitCode, Is.EqualTo(3));
        Assert.That(e.StandardErrorTail, Is.EqualTo("broken"));
    }
}

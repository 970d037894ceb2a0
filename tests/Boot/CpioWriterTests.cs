using System.Diagnostics;
using Kiln.Kernel.Boot;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

public class CpioWriterTests
{
    private static byte[] Sample(uint mtime = 0)
    {
        var buffer = new MemoryStream();
        using (var cpio = new CpioWriter(buffer, mtime, leaveOpen: true))
        {
            cpio.AddDirectory("/dev");
            cpio.AddCharDevice("dev/console", 5, 1);
            cpio.AddDirectory("bin");
            // Sizes 1..3 exercise every padding length after the data.
            cpio.AddFile("bin/a", "x", 0x1ED);
            cpio.AddFile("bin/bb", "yy");
            cpio.AddFile("bin/ccc", "zzz");
            cpio.AddSymlink("bin/sh", "busybox");
            cpio.AddFile("empty", Array.Empty<byte>());
        }
        return buffer.ToArray();
    }

    [Test]
    public void Reads_back_every_entry_with_type_mode_and_data()
    {
        var entries = CpioReader.Read(Sample());

        Assert.That(entries.Select(e => e.Name), Is.EqualTo(new[] { "dev", "dev/console", "bin", "bin/a", "bin/bb", "bin/ccc", "bin/sh", "empty" }));
        var console = entries[1];
        Assert.That(console.Type, Is.EqualTo(0x2000u), "character device");
        Assert.That((console.RdevMajor, console.RdevMinor), Is.EqualTo((5u, 1u)));
        Assert.That(entries[0].Type, Is.EqualTo(0x4000u));
        Assert.That(entries[0].Nlink, Is.EqualTo(2u));
        Assert.That(entries[3].Permissions, Is.EqualTo(0x1EDu));
        Assert.That(entries[3].Text, Is.EqualTo("x"));
        Assert.That(entries[5].Text, Is.EqualTo("zzz"));
        Assert.That(entries[6].Type, Is.EqualTo(0xA000u));
        Assert.That(entries[6].Text, Is.EqualTo("busybox"));
        Assert.That(entries[7].Data, Is.Empty);
    }

    [Test]
    public void Is_deterministic_with_root_owner_fixed_mtime_and_inodes_in_order()
    {
        var entries = CpioReader.Read(Sample(mtime: 1700000000));

        Assert.That(entries.Select(e => e.Inode), Is.EqualTo(Enumerable.Range(1, entries.Count).Select(i => (uint)i)));
        Assert.That(entries.All(e => e.Uid == 0 && e.Gid == 0 && e.Mtime == 1700000000), Is.True);
        Assert.That(Sample(), Is.EqualTo(Sample()));
    }

    [Test]
    public void Rejects_duplicates_escapes_and_writes_after_finish()
    {
        using var cpio = new CpioWriter(new MemoryStream());
        cpio.AddDirectory("a");
        Assert.Throws<ArgumentException>(() => cpio.AddDirectory("/a"));
        Assert.Throws<ArgumentException>(() => cpio.AddFile("../etc/passwd", "x"));
        cpio.Finish();
        Assert.Throws<InvalidOperationException>(() => cpio.AddDirectory("b"));
    }

    [Test]
    public void Gnu_cpio_lists_and_extracts_the_archive()
    {
        Prerequisite.Require(File.Exists("/usr/bin/cpio"), "GNU cpio is not installed");
        var dir = Directory.CreateTempSubdirectory("kiln-cpio-").FullName;
        try
        {
            var archive = Path.Combine(dir, "a.cpio");
            File.WriteAllBytes(archive, Sample());
            var extract = Path.Combine(dir, "x");
            Directory.CreateDirectory(extract);
            // --no-absolute-filenames and no device creation: extraction must not need root.
            var listing = RunCpio(extract, archive, "-it");
            Assert.That(listing.Split('\n', StringSplitOptions.RemoveEmptyEntries),
                Is.EqualTo(new[] { "dev", "dev/console", "bin", "bin/a", "bin/bb", "bin/ccc", "bin/sh", "empty" }));
            RunCpio(extract, archive, "-id", "--no-absolute-filenames", "bin/*");
            Assert.That(File.ReadAllText(Path.Combine(extract, "bin/ccc")), Is.EqualTo("zzz"));
            Assert.That(new FileInfo(Path.Combine(extract, "bin/sh")).LinkTarget, Is.EqualTo("busybox"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string RunCpio(string workingDirectory, string archive, params string[] args)
    {
        var psi = new ProcessStartInfo("cpio") { WorkingDirectory = workingDirectory, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        using (var input = File.OpenRead(archive)) input.CopyTo(process.StandardInput.BaseStream);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, stderr);
        return stdout;
    }
}

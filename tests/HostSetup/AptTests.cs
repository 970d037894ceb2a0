using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using NUnit.Framework;

namespace Kiln.Tests.HostSetup;

public class AptTests
{
    /// <summary>apt as a dictionary: which packages the lists know before and after an update.</summary>
    private sealed class FakeApt : IAptBackend
    {
        public HashSet<string> Known = new();
        public HashSet<string> KnownAfterUpdate = new();
        public HashSet<string> Architectures = new();
        public string? UpdateError;
        public Queue<string?> InstallErrors = new();
        public List<string> Calls = new();

        public IReadOnlyDictionary<string, string?> Candidates(IReadOnlyCollection<string> packages, IKilnLog log) =>
            packages.ToDictionary(p => p, p => Known.Contains(p) ? "1.0" : null);

        public string? Update(IKilnLog log)
        {
            Calls.Add("update");
            if (UpdateError is null) Known.UnionWith(KnownAfterUpdate);
            return UpdateError;
        }

        public string? Install(IReadOnlyCollection<string> packages, IKilnLog log)
        {
            Calls.Add("install " + string.Join(' ', packages));
            return InstallErrors.Count > 0 ? InstallErrors.Dequeue() : null;
        }

        public string? Download(string package, string directory, IKilnLog log)
        {
            Calls.Add("download " + package);
            return Known.Contains(package) ? null : "E: Can't select candidate version";
        }

        public IReadOnlyCollection<string> ForeignArchitectures(IKilnLog log) => Architectures;
        public void AddArchitecture(string debianArch, IKilnLog log) { Calls.Add("add-architecture " + debianArch); Architectures.Add(debianArch); }
    }

    private static readonly IKilnLog Log = new RecordingLog();

    [Test]
    public void EmptyListsAreUpdatedOnceBeforeInstalling()
    {
        var fake = new FakeApt { KnownAfterUpdate = { "bison", "flex" } };
        var apt = new Apt(fake);
        apt.Install(new[] { "bison", "flex" }, Log);
        Assert.That(fake.Calls, Is.EqualTo(new[] { "update", "install bison flex" }));
    }

    [Test]
    public void ListsThatKnowEveryPackageNeedNoNetworkBeforeTheInstall()
    {
        var fake = new FakeApt { Known = { "bison" }, UpdateError = "offline" };
        new Apt(fake).Install(new[] { "bison" }, Log);
        Assert.That(fake.Calls, Is.EqualTo(new[] { "install bison" }));
    }

    [Test]
    public void AtMostOneUpdatePerRunAcrossStages()
    {
        var fake = new FakeApt { KnownAfterUpdate = { "bison" } };
        var apt = new Apt(fake);
        apt.Install(new[] { "bison" }, Log);
        var e = Assert.Throws<KilnException>(() => apt.Install(new[] { "linux-source-6.12" }, Log))!;
        Assert.That(fake.Calls.Count(c => c == "update"), Is.EqualTo(1));
        Assert.That(apt.Updates, Is.EqualTo(1));
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("linux-source-6.12 (in Debian 12 (bookworm-security, main))").And.Contain("even after apt-get update"));
    }

    [Test]
    public void APackageWithNoCandidateAfterTheUpdateIsExit2NamingItAndItsRelease()
    {
        var fake = new FakeApt { KnownAfterUpdate = { "bison" } };
        var e = Assert.Throws<KilnException>(() => new Apt(fake).Install(new[] { "bison", "qemu-system-x86" }, Log))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.StartWith("No installation candidate for qemu-system-x86 (in Debian 12 (bookworm, main))"));
        Assert.That(e.Message, Does.Not.Contain("bison"));
        Assert.That(fake.Calls, Is.EqualTo(new[] { "update" }), "nothing is installed when a package cannot be");
    }

    [Test]
    public void AFailedUpdateIsNamedInTheError()
    {
        var fake = new FakeApt { UpdateError = "Could not resolve 'deb.debian.org'" };
        var e = Assert.Throws<KilnException>(() => new Apt(fake).Install(new[] { "ccache" }, Log))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("apt-get update failed (Could not resolve 'deb.debian.org')"));
    }

    [Test]
    public void StaleListsThatFailTheDownloadAreUpdatedAndRetried()
    {
        var fake = new FakeApt { Known = { "ccache" }, InstallErrors = new Queue<string?>(new[] { "E: Failed to fetch ... 404  Not Found" }) };
        new Apt(fake).Install(new[] { "ccache" }, Log);
        Assert.That(fake.Calls, Is.EqualTo(new[] { "install ccache", "update", "install ccache" }));
    }

    [Test]
    public void AnInstallThatStillFailsIsInfrastructureWithApt_sMessage()
    {
        var fake = new FakeApt { Known = { "ccache" }, InstallErrors = new Queue<string?>(new[] { "E: 404", "E: disk full" }) };
        var e = Assert.Throws<KilnException>(() => new Apt(fake).Install(new[] { "ccache" }, Log))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("E: disk full"));
        Assert.That(fake.Calls.Count(c => c == "update"), Is.EqualTo(1));
    }

    [Test]
    public void AForeignArchitectureAddedAfterAnUpdateGetsItsOwnUpdate()
    {
        var fake = new FakeApt { KnownAfterUpdate = { "bison" } };
        var apt = new Apt(fake);
        apt.Install(new[] { "bison" }, Log);
        fake.KnownAfterUpdate.Add("busybox-static:arm64");
        apt.AddArchitecture("arm64", Log);
        apt.AddArchitecture("arm64", Log);
        apt.Download("busybox-static:arm64", "/tmp", Log);
        Assert.That(fake.Calls, Is.EqualTo(new[] { "update", "install bison", "add-architecture arm64", "update", "download busybox-static:arm64" }));
    }

    [Test]
    public void PolicyOutputIsReadPerPackage()
    {
        const string output = "bison:\n  Installed: (none)\n  Candidate: 2:3.8.2+dfsg-1+b1\n  Version table:\n" +
                              "busybox-static:arm64:\n  Installed: (none)\n  Candidate: (none)\n" +
                              "linux-source-6.12:\n  Installed: (none)\n  Candidate: 6.12.117-1~deb12u1\n";
        var result = AptCommands.ParsePolicy(output, new[] { "bison", "busybox-static:arm64", "linux-source-6.12", "nosuch" });
        Assert.That(result["bison"], Is.EqualTo("2:3.8.2+dfsg-1+b1"));
        Assert.That(result["busybox-static:arm64"], Is.Null);
        Assert.That(result["linux-source-6.12"], Is.EqualTo("6.12.117-1~deb12u1"));
        Assert.That(result["nosuch"], Is.Null);
    }

    [Test]
    public void RealAptCachePolicyFindsAnInstalledPackage()
    {
        Prerequisite.Require(File.Exists("/usr/bin/apt-cache"), "not a Debian host: no apt-cache");
        var result = new AptCommands().Candidates(new[] { "dpkg", "kiln-no-such-package" }, Log);
        Assert.That(result["dpkg"], Is.Not.Null);
        Assert.That(result["kiln-no-such-package"], Is.Null);
    }
}

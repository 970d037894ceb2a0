using Kiln.Kernel.Parsing;
using NUnit.Framework;

namespace Kiln.Tests.Parsing;

public class WholeNumberTests
{
    [TestCase("0", 0, 10, 0)]
    [TestCase("10", 0, 10, 10)]
    [TestCase("0007", 0, 9999, 7)]
    [TestCase("2147483647", 0, int.MaxValue, int.MaxValue)]
    public void Reads_ASCII_digits_within_the_range(string text, int minimum, int maximum, int expected) =>
        Assert.That(WholeNumber.Parse(text, minimum, maximum), Is.EqualTo(expected));

    [TestCase("11", 0, 10)]
    [TestCase("0", 1, 10)]
    [TestCase("99999999999", 0, int.MaxValue)]
    [TestCase("99999999999999999999999", 0, int.MaxValue)]
    [TestCase("-3", 0, 10)]
    [TestCase("+3", 0, 10)]
    [TestCase(" 3", 0, 10)]
    [TestCase("3 ", 0, 10)]
    [TestCase("1.5", 0, 10)]
    [TestCase("", 0, 10)]
    [TestCase("\u0661", 0, 10)] // ARABIC-INDIC DIGIT ONE: \d matches it, a number it is not
    [TestCase("\uff11", 0, 10)] // FULLWIDTH DIGIT ONE
    public void Anything_else_is_no_number(string text, int minimum, int maximum) =>
        Assert.That(WholeNumber.Parse(text, minimum, maximum), Is.Null);

    [Test]
    public void Long_range_reads_past_int()
    {
        Assert.That(WholeNumber.TryParse("99999999999", 0L, long.MaxValue, out long value), Is.True);
        Assert.That(value, Is.EqualTo(99999999999L));
        Assert.That(WholeNumber.TryParse("99999999999999999999", 0L, long.MaxValue, out long _), Is.False);
    }
}

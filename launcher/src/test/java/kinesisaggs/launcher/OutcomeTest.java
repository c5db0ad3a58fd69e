package kinesisaggs.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class OutcomeTest {
    @Test
    void aRequestedStopIsASuccessEvenIfTheSchedulerThrew() {
        assertEquals(0, Outcome.of(true, null).code());
        assertEquals(0, Outcome.of(true, new IllegalStateException("late")).code());
    }

    @Test
    void aSchedulerThatReturnsByItselfIsAFailure() {
        Outcome o = Outcome.of(false, null);
        assertEquals(Outcome.UNEXPECTED_END, o.code());
        assertTrue(o.reason().contains("without a stop request"), o.reason());
    }

    @Test
    void aSchedulerThatThrowsIsAFailureNamingTheError() {
        Outcome o = Outcome.of(false, new IllegalStateException("AssignmentMode is not initialized"));
        assertEquals(Outcome.UNEXPECTED_END, o.code());
        assertTrue(o.reason().contains("AssignmentMode is not initialized"), o.reason());
    }

    @Test
    void argumentsNameOnePropertiesFile() {
        assertEquals("a.properties", Arguments.propertiesFile(new String[] {"--properties-file", "a.properties"}));
        assertEquals("b.properties", Arguments.propertiesFile(new String[] {"-p", "b.properties"}));
        assertEquals("c.properties", Arguments.propertiesFile(new String[] {"c.properties"}));
        assertThrows(IllegalArgumentException.class, () -> Arguments.propertiesFile(new String[] {}));
        assertThrows(IllegalArgumentException.class, () -> Arguments.propertiesFile(new String[] {"--properties-file"}));
        assertThrows(IllegalArgumentException.class,
                () -> Arguments.propertiesFile(new String[] {"a.properties", "b.properties"}));
    }
}

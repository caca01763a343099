// Applies commande's principals and ACL table to the embedded broker, as its super user.
//
// Run by deploy/local/kafka_security.py with Java's single-file source launcher on the broker's
// own jars (no build step): java -cp '<kafka libs>/*' KafkaSecurity.java <admin.properties> <spec>
//
// The spec is tab-separated, one line each:
//   user <name> <password>                                   a SCRAM-SHA-512 credential
//   acl  <principal> <TOPIC|GROUP|CLUSTER> <name> <LITERAL|PREFIXED> <OPERATION>   an allow ACL
// (the Java enum names, e.g. DESCRIBE_CONFIGS: an unknown name fails instead of meaning UNKNOWN)
// The broker ends up holding exactly these: credentials and ACLs not in the spec are removed
// (except the super user's own credential), so the table in schemas/access.py is the truth.
// Kafka's own Admin API does it in one JVM start (~2 s) where kafka-acls/kafka-configs take
// about a second a call.

import java.io.FileReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class KafkaSecurity {
    private static final int ITERATIONS = 8192;

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: KafkaSecurity <admin.properties> <spec> <super user>");
            System.exit(2);
        }
        Properties props = new Properties();
        try (FileReader reader = new FileReader(args[0])) {
            props.load(reader);
        }
        String superUser = args[2];
        List<String[]> users = new ArrayList<>();
        Set<AclBinding> wanted = new HashSet<>();
        for (String line : Files.readAllLines(Path.of(args[1]))) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t");
            if (f[0].equals("user") && f.length == 3) {
                users.add(new String[] {f[1], f[2]});
            } else if (f[0].equals("acl") && f.length == 6) {
                wanted.add(new AclBinding(
                        new ResourcePattern(ResourceType.valueOf(f[2]), f[3], PatternType.valueOf(f[4])),
                        new AccessControlEntry("User:" + f[1], "*", AclOperation.valueOf(f[5]),
                                AclPermissionType.ALLOW)));
            } else {
                throw new IllegalArgumentException("bad spec line: " + f[0]);
            }
        }
        try (Admin admin = Admin.create(props)) {
            Set<String> named = new HashSet<>();
            List<UserScramCredentialAlteration> alterations = new ArrayList<>();
            for (String[] user : users) {
                named.add(user[0]);
                alterations.add(new UserScramCredentialUpsertion(user[0],
                        new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS), user[1]));
            }
            int removedUsers = 0;
            for (String existing : admin.describeUserScramCredentials().users().get(30, TimeUnit.SECONDS)) {
                if (!named.contains(existing) && !existing.equals(superUser)) {
                    alterations.add(new UserScramCredentialDeletion(existing, ScramMechanism.SCRAM_SHA_512));
                    removedUsers++;
                }
            }
            if (!alterations.isEmpty()) {
                admin.alterUserScramCredentials(alterations).all().get(30, TimeUnit.SECONDS);
            }
            Set<AclBinding> existing = new HashSet<>(
                    admin.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS));
            List<AclBinding> add = new ArrayList<>();
            for (AclBinding binding : wanted) {
                if (!existing.contains(binding)) {
                    add.add(binding);
                }
            }
            List<AclBindingFilter> remove = new ArrayList<>();
            for (AclBinding binding : existing) {
                if (!wanted.contains(binding)) {
                    remove.add(binding.toFilter());
                }
            }
            if (!add.isEmpty()) {
                admin.createAcls(add).all().get(30, TimeUnit.SECONDS);
            }
            if (!remove.isEmpty()) {
                admin.deleteAcls(remove).all().get(30, TimeUnit.SECONDS);
            }
            System.out.printf("principals: %d (%d removed); acls: %d (%d added, %d removed)%n",
                    users.size(), removedUsers, wanted.size(), add.size(), remove.size());
        }
    }
}

/* notify_table.c: the table of every notifier type (notifier.h), one entry per file in alerts/
 * that implements a receiver. The manager looks a receiver's type up here by name. */
#include "notifier.h"

extern const struct notifier_ops msteams_notifier;
extern const struct notifier_ops msteams_workflow_notifier;
extern const struct notifier_ops webhook_notifier; /* notify_webhook.c */
extern const struct notifier_ops email_notifier;
extern const struct notifier_ops alertmanager_notifier;

const struct notifier_ops *const notifier_table[] = {
    &msteams_notifier, &msteams_workflow_notifier, &webhook_notifier,
    &email_notifier,   &alertmanager_notifier,
};

const size_t notifier_table_len = sizeof(notifier_table) / sizeof(notifier_table[0]);
